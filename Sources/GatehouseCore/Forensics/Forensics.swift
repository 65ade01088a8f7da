import Foundation

/// "Why was this user logged out?" answered from evidence: the session rows, the audit log and
/// the failed lookups the server records (throttled). Read-only; works on a live database.
///
/// Every search is bounded so that a ten-million-row audit log answers in well under a second:
/// a session's own rows come through the target index, and the rows about unknown credentials
/// are searched in a window of `scanWindow` rows (after the session's last row, or the newest).
public final class Forensics: Sendable {
    let database: GatehouseDatabase
    let clock: any GatehouseClock
    let configuration: GatehouseConfiguration
    static let scanWindow: Int64 = 500_000

    init(database: GatehouseDatabase, clock: any GatehouseClock, configuration: GatehouseConfiguration) {
        self.database = database
        self.clock = clock
        self.configuration = configuration
    }

    /// What to explain. Credential values are hashed here and never stored or shown.
    public enum Subject: Sendable {
        case session(handle: String)
        case cookie(String)
        case refreshToken(String)
        case user(email: String)
    }

    public func explain(_ subject: Subject) async throws -> Explanation {
        let now = clock.now()
        let grace = configuration.sessionRotationGrace
        return try await database.read { tx in
            var stray: [AuditEvent] = []
            var links: [LinkStory] = []
            let summaries: [SessionSummary]
            let description: String
            switch subject {
            case .session(let handle):
                guard let summary = try tx.fetchOne(SessionSummary.self, "\(SessionService.summarySelect) WHERE s.handle = ?", [handle]) else {
                    throw AuthError.notFound("session \(handle)" + (try Self.retentionNote(in: tx) ?? ""))
                }
                summaries = [summary]
                description = "session \(handle)"
            case .cookie(let value):
                (description, summaries, stray) = try Self.credential(value, .cookie, in: tx)
            case .refreshToken(let value):
                (description, summaries, stray) = try Self.credential(value, .refreshToken, in: tx)
            case .user(let email):
                let address = try User.addressArguments(email)
                guard let user = try tx.fetchOne(User.self, "SELECT * FROM users WHERE id = \(User.idByAddressSQL)",
                                                 [address.exact, address.normalized]) else {
                    // No user: every request for the address may have been refused (429) before one was made.
                    let refused = try LinkStory.recent(userId: nil, email: address.normalized, now: now, in: tx)
                    guard !refused.isEmpty else { throw AuthError.notFound("user \(address.normalized)") }
                    return Explanation(subject: "address \(address.normalized)", verdict: LinkStory.verdict(refused, email: address.normalized),
                                       sessions: [], strayLookups: [], signInLinks: refused)
                }
                summaries = try tx.fetchAll(SessionSummary.self, """
                    \(SessionService.summarySelect) WHERE u.id = ? ORDER BY s.id DESC LIMIT 20
                    """, [user.id])
                links = try LinkStory.recent(userId: user.id, email: user.email, now: now, in: tx)
                description = "user \(user.email)"
                if summaries.isEmpty {
                    return Explanation(subject: description, verdict: LinkStory.verdict(links, email: user.email), sessions: [],
                                       strayLookups: [], signInLinks: links)
                }
            }
            let stories = try summaries.map { try SessionStoryteller(summary: $0, grace: grace, now: now).tell(in: tx) }
            let strayEntries = stray.map { SessionStoryteller.entry($0, evidence: true) }
            let verdict = Self.headline(stories, stray: stray, subject: description)
            return Explanation(subject: description, verdict: verdict, sessions: stories, strayLookups: strayEntries, signInLinks: links)
        }
    }

    /// When ended sessions are removed (the newest retention run that removed any), said
    /// beside "not found": the evidence may be older than the window, not missing.
    static func retentionNote(in tx: any SQLTransaction) throws -> String? {
        guard let run = try tx.fetchOne(AuditEvent.self, """
            SELECT * FROM audit_events WHERE target_type = 'retention' AND target_id = 'ended_sessions_removed' ORDER BY seq DESC LIMIT 1
            """), let days = run.detail("days") else { return nil }
        return " (ended sessions are removed after \(days) days; retention last ran at \(Timestamp.iso8601(run.at)): an older session's evidence is gone)"
    }

    /// The story to lead with: the latest logout, else the newest session.
    static func headline(_ stories: [SessionStory], stray: [AuditEvent], subject: String) -> Verdict {
        if stories.isEmpty {
            let names = Set(stray.compactMap { $0.detail("cookie_name") }).sorted()
            let seen = stray.isEmpty ? "no request with it is on record"
                : "refused \(stray.count)× (\(Set(stray.compactMap(\.reason)).sorted().joined(separator: ", "))), first at \(Timestamp.iso8601(stray[0].at))"
            return Verdict(
                cause: .neverIssued, at: stray.first?.at,
                summary: "this server never issued \(subject); \(seen)",
                hint: "A cookie this server never issued\(names.isEmpty ? "" : " under the name '\(names.joined(separator: "', '"))'") usually belongs to another app on the same host: cookies are shared across ports (RFC 6265 §8.5). Give each app its own cookie name.",
                evidence: stray.map(\.seq))
        }
        let loggedOut = stories.filter { $0.verdict.cause != .notLoggedOut && $0.verdict.at != nil }
        return (loggedOut.max { $0.verdict.at! < $1.verdict.at! } ?? stories[0]).verdict
    }

    /// Where each kind of credential is stored (by hash) and how its refused lookups are audited.
    enum CredentialKind {
        case cookie, refreshToken

        var name: String { self == .cookie ? "cookie" : "refresh token" }
        var table: (name: String, hashColumn: String) { self == .cookie ? ("session_secrets", "secret_hash") : ("refresh_tokens", "token_hash") }
        var failure: (action: String, detail: String) { self == .cookie ? ("session.lookup_failed", "secret") : ("refresh.failed", "token") }
    }

    /// The session a credential value belongs to (none when never issued) and its refused
    /// lookups that matched no session. The value is hashed here; only its fingerprint leaves.
    private static func credential(_ value: String, _ kind: CredentialKind, in tx: any SQLTransaction) throws
        -> (description: String, summaries: [SessionSummary], stray: [AuditEvent]) {
        let hash = SecretToken(value: value).hash
        let summaries = try tx.fetchAll(SessionSummary.self, """
            \(SessionService.summarySelect) WHERE s.id = (SELECT session_id FROM \(kind.table.name) WHERE \(kind.table.hashColumn) = ?)
            """, [hash.bytes])
        let stray = try recentFailures(action: kind.failure.action, detail: kind.failure.detail, fingerprint: hash.fingerprint, in: tx)
        return ("\(kind.name) \(hash.fingerprint)", summaries, stray)
    }

    /// Failed lookups of one credential fingerprint that matched no session, newest window only.
    private static func recentFailures(action: String, detail: String, fingerprint: String, in tx: any SQLTransaction) throws -> [AuditEvent] {
        let newest = try tx.fetchScalar(Int64.self, "SELECT max(seq) FROM audit_events") ?? 0
        return try tx.fetchAll(AuditEvent.self, """
            SELECT * FROM audit_events
            WHERE seq > ? AND action = ? AND target_id IS NULL AND \(tx.dialect.containsExactText("details"))
            ORDER BY seq LIMIT 50
            """, [newest - scanWindow, action, "\"\(detail)\":\"\(fingerprint)\""])
    }
}

extension AuditEvent {
    /// One string field of `details`.
    func detail(_ key: String) -> String? {
        guard let details, let object = try? JSONSerialization.jsonObject(with: Data(details.utf8)) as? [String: Any] else { return nil }
        return object[key] as? String
    }
}
