import Foundation

/// `user-export`: everything Gatehouse holds about one user (a data-subject access request):
/// profile, every session, the refresh-token lineage (fingerprints only), the rate-limit
/// buckets keyed by the user's address or IPs, and the audit trail — as one JSON file and one
/// Markdown file for a human reader.
enum UserExport {
    struct Snapshot {
        var user: User
        var sessions: [Session]
        var tokens: [RefreshToken]
        var buckets: [RateLimitBucket]
        var events: [AuditEvent]
    }

    static func write(_ context: JobContext, database: GatehouseDatabase) async throws -> [JobOutput] {
        let address = context.job.arguments["user"] ?? ""
        let email = try EmailAddress.normalize(address)
        try await context.progress(5, "reading \(email)")
        let snapshot = try await database.read { tx -> Snapshot? in
            guard let user = try User.find(address: address, in: tx) else { return nil }
            let sessions = try tx.fetchAll(Session.self, "SELECT * FROM sessions WHERE user_id = ? ORDER BY id", [user.id])
            let tokens = try tx.fetchAll(RefreshToken.self, """
                SELECT rt.* FROM refresh_tokens rt JOIN sessions s ON s.id = rt.session_id WHERE s.user_id = ? ORDER BY rt.id
                """, [user.id])
            var keys = ["magic-link-email:\(user.email)"]
            for ip in Set(sessions.compactMap(\.ip)) { keys += ["refresh:\(ip)", "verify:\(ip)", "magic-link-ip:\(ip)"] }
            let buckets = try tx.fetchAll(RateLimitBucket.self, "SELECT * FROM rate_limit_buckets WHERE key IN (\(keys.map { _ in "?" }.joined(separator: ",")))",
                                          SQLArguments(keys.map(\.sqlValue)))
            var events = try tx.fetchAll(AuditEvent.self, "SELECT * FROM audit_events WHERE target_type = 'user' AND target_id = ?",
                                         [user.email])
            // The target index answers each chunk of handles; no scan of the whole log.
            let handles = sessions.map(\.handle)
            for start in stride(from: 0, to: handles.count, by: 500) {
                let chunk = Array(handles[start..<min(handles.count, start + 500)])
                events += try tx.fetchAll(AuditEvent.self, """
                    SELECT * FROM audit_events WHERE target_type = 'session' AND target_id IN (\(chunk.map { _ in "?" }.joined(separator: ",")))
                    """, SQLArguments(chunk.map(\.sqlValue)))
            }
            return Snapshot(user: user, sessions: sessions, tokens: tokens, buckets: buckets, events: events.sorted { $0.seq < $1.seq })
        }
        guard let snapshot else { throw PermanentJobFailure("no user \(email)") }
        try await context.progress(50, "\(snapshot.sessions.count) sessions, \(snapshot.events.count) audit events")

        let base = "user-export-\(context.job.id)"
        let json = try DocumentFile(directory: context.directory, name: base + ".json", mediaType: "application/json")
        let markdown = try DocumentFile(directory: context.directory, name: base + ".md", mediaType: "text/markdown")
        do {
            try writeJSON(snapshot, to: json)
            try await context.progress(75, "JSON written")
            try writeMarkdown(snapshot, to: markdown)
            return [try json.finish(), try markdown.finish()]
        } catch {
            json.discard()
            markdown.discard()
            throw error
        }
    }

    private static func writeJSON(_ snapshot: Snapshot, to file: DocumentFile) throws {
        let user = snapshot.user
        try file.write("""
            {"generated_at":\(JSONText.date(Date())),"user":{"id":\(user.id),"email":\(JSONText.string(user.email)),\
            "created_at":\(JSONText.date(user.createdAt)),"credits":\(user.credits)},"sessions":[
            """)
        for (index, session) in snapshot.sessions.enumerated() {
            try file.write((index > 0 ? ",\n" : "\n") + """
                {"handle":\(JSONText.string(session.handle)),"kind":"\(session.kind.rawValue)","state":"\(session.state.rawValue)",\
                "created_at":\(JSONText.date(session.createdAt)),"last_seen_at":\(JSONText.date(session.lastSeenAt)),\
                "ended_at":\(JSONText.date(session.endedAt)),"end_reason":\(JSONText.string(session.endReason)),\
                "ended_by":\(JSONText.string(session.endedBy)),"ip":\(JSONText.string(session.ip)),\
                "user_agent":\(JSONText.string(session.userAgent)),"refresh_family":\(JSONText.string(session.refreshFamily))}
                """)
        }
        try file.write("],\"refresh_tokens\":[")
        let fingerprints = Dictionary(uniqueKeysWithValues: snapshot.tokens.map { ($0.id, $0.fingerprint) })
        for (index, token) in snapshot.tokens.enumerated() {
            try file.write((index > 0 ? ",\n" : "\n") + """
                {"fingerprint":"\(token.fingerprint)","family":\(JSONText.string(token.family)),\
                "parent":\(JSONText.string(token.parentId.flatMap { fingerprints[$0] })),"state":"\(token.state.rawValue)",\
                "issued_at":\(JSONText.date(token.issuedAt)),"used_at":\(JSONText.date(token.usedAt)),\
                "revoked_at":\(JSONText.date(token.revokedAt)),"revoked_reason":\(JSONText.string(token.revokedReason))}
                """)
        }
        try file.write("],\"rate_limits\":[")
        for (index, bucket) in snapshot.buckets.enumerated() {
            try file.write((index > 0 ? ",\n" : "\n") + """
                {"key":\(JSONText.string(bucket.key)),"policy":\(JSONText.string(bucket.policy)),"allowed_total":\(bucket.allowedTotal),\
                "blocked_total":\(bucket.blockedTotal),"last_blocked_at":\(JSONText.date(bucket.lastBlockedAt))}
                """)
        }
        try file.write("],\"audit_trail\":[")
        for (index, event) in snapshot.events.enumerated() {
            try file.write((index > 0 ? ",\n" : "\n") + AuditReport.jsonLine(event))
        }
        try file.write("]}\n")
    }

    private static func writeMarkdown(_ snapshot: Snapshot, to file: DocumentFile) throws {
        let user = snapshot.user
        func cell(_ text: String?) -> String {
            (text ?? "—").replacingOccurrences(of: "|", with: "\\|").replacingOccurrences(of: "\n", with: " ")
        }
        func date(_ value: Date?) -> String { value.map(Timestamp.iso8601) ?? "—" }
        try file.write("""
            # Gatehouse data export: \(user.email)

            Generated \(Timestamp.iso8601(Date())). Secrets are never stored by Gatehouse; tokens appear as fingerprints.

            ## Profile

            | field | value |
            | --- | --- |
            | id | \(user.id) |
            | email | \(cell(user.email)) |
            | created | \(date(user.createdAt)) |
            | credits | \(user.credits) |

            ## Sessions (\(snapshot.sessions.count))

            | handle | kind | state | created | last seen | ended | why | by | IP |
            | --- | --- | --- | --- | --- | --- | --- | --- | --- |

            """)
        for session in snapshot.sessions {
            try file.write("| \(session.handle) | \(session.kind.rawValue) | \(session.state.rawValue) | \(date(session.createdAt)) | " +
                           "\(date(session.lastSeenAt)) | \(date(session.endedAt)) | \(cell(session.endReason)) | \(cell(session.endedBy)) | \(cell(session.ip)) |\n")
        }
        try file.write("\n## Refresh tokens (\(snapshot.tokens.count))\n\n| fingerprint | family | state | issued | used | revoked |\n| --- | --- | --- | --- | --- | --- |\n")
        for token in snapshot.tokens {
            try file.write("| \(token.fingerprint) | \(token.family) | \(token.state.rawValue) | \(date(token.issuedAt)) | \(date(token.usedAt)) | \(date(token.revokedAt)) |\n")
        }
        try file.write("\n## Rate limits (\(snapshot.buckets.count))\n\n| bucket | allowed | blocked | last blocked |\n| --- | --- | --- | --- |\n")
        for bucket in snapshot.buckets {
            try file.write("| \(cell(bucket.key)) | \(bucket.allowedTotal) | \(bucket.blockedTotal) | \(date(bucket.lastBlockedAt)) |\n")
        }
        try file.write("\n## Audit trail (\(snapshot.events.count))\n\n| seq | at | actor | action | target | outcome | reason |\n| --- | --- | --- | --- | --- | --- | --- |\n")
        for event in snapshot.events {
            let actor = event.actorType + (event.actorId.map { ":\($0)" } ?? "")
            try file.write("| \(event.seq) | \(date(event.at)) | \(cell(actor)) | \(cell(event.action)) | \(cell(event.targetId)) | \(event.outcome) | \(cell(event.reason)) |\n")
        }
    }
}
