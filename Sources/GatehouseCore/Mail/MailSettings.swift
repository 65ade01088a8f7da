import Foundation

/// Where sign-in links point, what their mail says, and whether it is sent.
public struct MailSettings: Sendable, Equatable {
    public enum Delivery: String, Sendable, Equatable {
        /// The development sink: the mail stays in the `outbox` table with its usable link and
        /// nothing is sent (`serve --dev`'s default; never outside it).
        case outbox
        /// Each mail becomes a `mail` job that a worker hands to the system's `sendmail`.
        case sendmail
    }

    public var delivery: Delivery = .outbox
    /// Scheme, host and optional port (and path prefix) of the app users sign in to, e.g.
    /// `https://app.example.com`; the link is this + `linkPath` + `?linkParameter=TOKEN`.
    public var publicURL = "http://localhost:8080"
    /// The page of the app that takes the token and calls `POST /api/v1/auth/verify`.
    public var linkPath = "/login"
    /// The query parameter that carries the token.
    public var linkParameter = "token"
    /// The `From:` header; nil lets the sendmail program choose (msmtp's `from`, the local user).
    public var from: String?
    public var template = MailTemplate.default

    public init() {}

    /// The sign-in URL for `token`.
    public func link(token: String) -> String {
        let base = publicURL.hasSuffix("/") ? String(publicURL.dropLast()) : publicURL
        let path = linkPath.hasPrefix("/") ? linkPath : "/" + linkPath
        return "\(base)\(path)\(path.contains("?") ? "&" : "?")\(linkParameter)=\(token)"
    }

    /// Why `url` cannot be a public URL, or nil: an absolute http(s) URL with a host and no
    /// query or fragment (the link adds its own).
    public static func problem(publicURL url: String) -> String? {
        guard let components = URLComponents(string: url), let scheme = components.scheme?.lowercased(),
              scheme == "https" || scheme == "http" else {
            return "'\(url)' is not an http:// or https:// URL"
        }
        guard let host = components.host, !host.isEmpty else { return "'\(url)' has no host" }
        guard components.query == nil, components.fragment == nil else { return "'\(url)' must not have a query or fragment" }
        guard components.user == nil, components.password == nil else { return "'\(url)' must not carry a user or password" }
        return nil
    }

    /// Why `path` cannot be the link's path, or nil.
    public static func problem(linkPath path: String) -> String? {
        guard path.hasPrefix("/"), URLComponents(string: path) != nil, !path.contains("#"),
              path.unicodeScalars.allSatisfy({ $0.isASCII && $0.value > 0x20 && $0.value < 0x7f }) else {
            return "link path '\(path)' must start with / and be a URL path (printable ASCII, no spaces or #)"
        }
        return nil
    }

    /// Why `name` cannot be the link's query parameter, or nil.
    public static func problem(linkParameter name: String) -> String? {
        guard !name.isEmpty, name.count <= 64, name.utf8.allSatisfy({ $0.isASCIIAlphanumeric || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: "-") }) else {
            return "link parameter '\(name)' must be 1–64 letters, digits, _ or -"
        }
        return nil
    }

    /// Why `from` cannot be a From header, or nil: one line, `Name <addr@host>` or `addr@host`.
    public static func problem(from: String) -> String? {
        guard !from.isEmpty, from.count <= 300, !from.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }),
              from.contains("@") else {
            return "from '\(from)' must be one line such as 'Example <no-reply@example.com>'"
        }
        return nil
    }
}
