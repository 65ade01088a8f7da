import Foundation
import GatehouseCore

/// How `gatehouse serve` listens and behaves. Filled from defaults, then the config file, then
/// the environment, then flags (each later source wins).
public struct ServerOptions: Sendable, Equatable {
    public var host = "127.0.0.1"
    /// 0 asks the system for a free port; the one chosen is printed at start.
    public var port = 8080
    /// Development mode: `POST /api/v1/auth/magic-link` also returns the token (`dev_token`).
    public var dev = false
    /// Leaves `Secure` off the session cookie, for plain-HTTP development on localhost.
    public var insecureCookies = false
    /// A name of Gatehouse's own: browsers share cookies across all ports of a host (RFC 6265
    /// §8.5), so two apps that both use `session` overwrite each other's login.
    public var cookieName = ServerOptions.defaultCookieName
    /// Stripe-style endpoint secret; the webhook answers 503 while it is not set.
    public var webhookSecret: String?
    /// Take the client address from the last `X-Forwarded-For` entry (behind one reverse proxy).
    public var trustProxy = false
    /// Document-job slots run inside the server (0: none; run `gatehouse worker` instead).
    public var workers = 1
    /// Where embedded workers write documents (nil: `<database>-documents`).
    public var dataDirectory: String?
    /// What embedded workers hand sign-in mail to.
    public var sendmail = SendmailCommand.standard
    /// Signed audit checkpoints on a schedule (`[audit]`; off unless key and folder are given).
    public var checkpoints = CheckpointSettings()
    /// The `retention` job's schedule (`[retention]`; none without it).
    public var retention = RetentionSettings()
    /// Timeouts and size caps at the HTTP edge.
    public var http = HTTPLimits()

    public static let defaultCookieName = "gatehouse_session"

    public init() {}

    /// RFC 6265 token characters, as browsers accept in a cookie name.
    public static func isValidCookieName(_ name: String) -> Bool {
        !name.isEmpty && name.utf8.count <= 64
            && name.utf8.allSatisfy { $0.isASCIIAlphanumeric || "!#$%&'*+-.^_`|~".utf8.contains($0) }
    }

    /// Names that many frameworks use by default: a second app on the same host (any port)
    /// that uses one of them will overwrite this server's cookie.
    public static let genericCookieNames: Set<String> = ["session", "sessionid", "sid", "connect.sid", "PHPSESSID", "JSESSIONID"]

    /// A warning for development setups likely to reproduce the original logout bug, or nil.
    public var cookieNameWarning: String? {
        let local = ["127.0.0.1", "localhost", "::1", "0.0.0.0"].contains(host)
        guard local, Self.genericCookieNames.contains(cookieName) else { return nil }
        return "cookie name '\(cookieName)' is generic and this server runs on \(host): another app on this host, on any port, " +
            "that uses the same name overwrites this cookie (RFC 6265 §8.5) and its users appear logged out. " +
            "Use --cookie-name with a name of this app's own."
    }
}
