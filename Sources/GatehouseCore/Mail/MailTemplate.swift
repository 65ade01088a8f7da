import Foundation

/// The sign-in mail's subject and text, with placeholders filled in when a link is issued.
///
/// A template file is a subject header, a blank line and the body:
///
///     Subject: Sign in to Example
///
///     Hello {{email}},
///
///     {{link}}
///
///     The link works once, for {{minutes}} minutes.
///
/// Placeholders: `{{link}}` (required, the whole sign-in URL), `{{email}}`, `{{minutes}}` (the
/// link's lifetime) and `{{expires_at}}` (ISO 8601, UTC). Anything else in braces is an error
/// naming `file:line`, so that a typo does not reach users' inboxes.
public struct MailTemplate: Sendable, Equatable {
    public var subject: String
    public var body: String

    public static let placeholders = ["link", "email", "minutes", "expires_at"]

    public static let `default` = MailTemplate(subject: "Your sign-in link", body: """
        Sign in: {{link}}

        The link works once, for {{minutes}} minutes. If you did not ask for it, ignore this mail.
        """)

    public init(subject: String, body: String) {
        self.subject = subject
        self.body = body
    }

    /// A mistake in a template file, located: `mail.txt:3: unknown placeholder {{name}}`.
    public struct FileError: Error, Equatable, CustomStringConvertible {
        public var path: String
        public var line: Int?
        public var message: String
        public var description: String { "\(path)\(line.map { ":\($0)" } ?? ""): \(message)" }
    }

    public static func load(path: String) throws(FileError) -> MailTemplate {
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw FileError(path: path, line: nil, message: "cannot read the mail template (\(error.localizedDescription))")
        }
        return try parse(text, path: path)
    }

    public static func parse(_ text: String, path: String) throws(FileError) -> MailTemplate {
        func fail(_ line: Int?, _ message: String) -> FileError { FileError(path: path, line: line, message: message) }
        let lines = text.replacingOccurrences(of: "\r\n", with: "\n").split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        guard let first = lines.first, first.lowercased().hasPrefix("subject:") else {
            throw fail(1, "the first line must be 'Subject: …', then a blank line, then the body")
        }
        let subject = first.dropFirst("subject:".count).trimmingCharacters(in: .whitespaces)
        guard !subject.isEmpty else { throw fail(1, "the subject is empty") }
        guard subject.count <= 200 else { throw fail(1, "the subject is longer than 200 characters") }
        guard lines.count >= 3, lines[1].trimmingCharacters(in: .whitespaces).isEmpty else {
            throw fail(2, "a blank line must follow the subject, then the body")
        }
        for (index, line) in lines.enumerated() {
            if let control = line.unicodeScalars.first(where: { $0.properties.generalCategory == .control && $0 != "\t" }) {
                throw fail(index + 1, "control character U+\(String(control.value, radix: 16, uppercase: true)) (mail text must be plain)")
            }
            // RFC 5322 §2.1.1: lines of at most 998 octets (the link is inserted later and is short).
            guard line.utf8.count <= 900 else { throw fail(index + 1, "line longer than 900 bytes") }
            for name in Self.names(in: line) where !placeholders.contains(name) {
                throw fail(index + 1, "unknown placeholder {{\(name)}} (known: \(placeholders.map { "{{\($0)}}" }.joined(separator: ", ")))")
            }
        }
        if Self.names(in: subject).contains("link") { throw fail(1, "{{link}} belongs in the body, not the subject") }
        let body = lines.dropFirst(2).joined(separator: "\n").trimmingCharacters(in: .newlines)
        guard body.contains("{{link}}") else { throw fail(nil, "the body never uses {{link}}: the mail would not let anyone sign in") }
        return MailTemplate(subject: subject, body: body)
    }

    /// The text between each `{{` and the next `}}`.
    private static func names(in line: String) -> [String] {
        var names: [String] = []
        var rest = line[...]
        while let open = rest.range(of: "{{") {
            guard let close = rest[open.upperBound...].range(of: "}}") else { break }
            names.append(String(rest[open.upperBound..<close.lowerBound]))
            rest = rest[close.upperBound...]
        }
        return names
    }

    /// The subject and body with every placeholder replaced, in one pass over the template: a
    /// value is never read as a template (an address may contain `{{link}}`).
    func render(link: String, email: String, lifetime: TimeInterval, expiresAt: Date) -> (subject: String, body: String) {
        let values = ["link": link, "email": email, "minutes": String(Int((lifetime / 60).rounded())),
                      "expires_at": Timestamp.iso8601Seconds(expiresAt)]
        func fill(_ text: String) -> String {
            var output = ""
            var rest = text[...]
            while let open = rest.range(of: "{{"), let close = rest[open.upperBound...].range(of: "}}") {
                output += rest[..<open.lowerBound]
                let name = String(rest[open.upperBound..<close.lowerBound])
                output += values[name] ?? String(rest[open.lowerBound..<close.upperBound])
                rest = rest[close.upperBound...]
            }
            return output + rest
        }
        return (fill(subject), fill(body))
    }
}
