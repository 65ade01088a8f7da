import Crypto
import Foundation

/// Fills a database with plausible, internally consistent data fast: for the benchmarks
/// (a million sessions, ten million audit events) and the demo.
///
/// It writes with cached statements in large transactions instead of going through the
/// services (which would take a quarter of an hour for a million logins), but keeps every
/// invariant the services keep: sessions belong to users, each API session has a refresh
/// family, and the audit rows form a valid hash chain (`audit verify` passes).
public enum SyntheticData {
    public struct Counts: Sendable, Equatable {
        public var users: Int
        public var sessions: Int
        public var auditEvents: Int

        public init(users: Int, sessions: Int, auditEvents: Int) {
            self.users = users
            self.sessions = sessions
            self.auditEvents = auditEvents
        }
    }

    /// Appends `counts` to the database (users first, then sessions with one refresh token each,
    /// then audit events continuing the existing chain). `progress` gets (done, total) rows.
    public static func seed(_ counts: Counts, into database: GatehouseDatabase, clock: any GatehouseClock = SystemClock(),
                            progress: (Int, Int) -> Void = { _, _ in }) throws {
        let total = counts.users + counts.sessions + counts.auditEvents
        var done = 0
        let now = clock.now().unixSeconds
        let batch = 50_000
        // Durability does not matter for generated data; speed does.
        try database.relaxDurability()
        defer { database.restoreDurability() }

        let firstUser = try database.readSync { tx in try tx.fetchScalar(Int64.self, "SELECT coalesce(max(id), 0) FROM users") ?? 0 } + 1
        var written = 0
        while written < counts.users {
            let end = min(counts.users, written + batch)
            try database.writeSync { tx in
                var users = InsertBatch(tx, "INSERT INTO users (id, email, created_at, credits) VALUES ", row: "(?, ?, ?, 0)")
                for index in written..<end {
                    let id = firstUser + Int64(index)
                    try users.add([id, "user\(id)@example.com", now - Double(counts.users - index)])
                }
                try users.flush()
                try tx.execute(tx.dialect.followIdentity(of: "users"))
            }
            done += end - written
            written = end
            progress(done, total)
        }
        let userCount = try database.readSync { tx in try tx.fetchScalar(Int64.self, "SELECT count(*) FROM users") ?? 0 }
        guard userCount > 0 || counts.sessions == 0 else { return }

        written = 0
        let firstSession = try database.readSync { tx in try tx.fetchScalar(Int64.self, "SELECT coalesce(max(id), 0) FROM sessions") ?? 0 } + 1
        var random = SystemRandomNumberGenerator()
        let states = ["active", "active", "active", "logged_out", "revoked", "expired"]
        while written < counts.sessions {
            let end = min(counts.sessions, written + batch)
            try database.writeSync { tx in
                var sessions = InsertBatch(tx, """
                    INSERT INTO sessions (id, handle, user_id, kind, state, end_reason, ended_by, ended_at, created_at, last_seen_at,
                                          idle_timeout, absolute_expires_at, ip, user_agent, refresh_family) VALUES
                    """, row: "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 604800, ?, ?, 'Mozilla/5.0 (synthetic)', ?)")
                // Flushed only after the sessions they belong to (the foreign key).
                var tokens = InsertBatch(tx, "INSERT INTO refresh_tokens (token_hash, family, session_id, state, issued_at, expires_at) VALUES ",
                                         row: "(?, ?, ?, ?, ?, ?)", autoFlush: false)
                for index in written..<end {
                    let created = now - Double(counts.sessions - index) * 0.5
                    let state = states[Int(random.next() % UInt64(states.count))]
                    let api = index % 3 != 0
                    let family: String? = api ? Handle.make("fam_") : nil
                    let ended = state == "active" ? nil : created + 60
                    let sessionId = firstSession + Int64(index)
                    try sessions.add([
                        sessionId, Handle.make("ses_"), Int64(random.next() % UInt64(userCount)) + 1, api ? "api" : "web", state,
                        state == "active" ? nil : (state == "revoked" ? "revoked by operator" : state == "expired" ? "expired_idle" : "logged_out"),
                        state == "active" ? nil : (state == "revoked" ? "operator:oncall" : "system"), ended,
                        created, created, created + 30 * 86400, "198.51.100.\(index % 250 + 1)", family])
                    if let family {
                        let secret = SecretHash(bytes: Data((0..<32).map { _ in UInt8.random(in: 0...255, using: &random) }))
                        try tokens.add([secret.bytes, family, sessionId, state == "active" ? "active" : "revoked",
                                        created, created + 30 * 86400])
                        if tokens.isFull {
                            try sessions.flush()
                            try tokens.flush()
                        }
                    }
                }
                try sessions.flush()
                try tokens.flush()
                try tx.execute(tx.dialect.followIdentity(of: "sessions"))
            }
            done += end - written
            written = end
            progress(done, total)
        }

        let (lastSeq, lastHash) = try database.readSync { tx -> (Int64, Data) in
            let seq = try AuditLog.highestSeq(in: tx)
            let hash = try tx.fetchScalar(Data.self, "SELECT hash FROM audit_events ORDER BY seq DESC LIMIT 1") ?? AuditLog.genesisHash
            return (seq, hash)
        }
        var seq = lastSeq
        var previous = lastHash
        let actions = ["session.created", "refresh.rotated", "refresh.rotated", "refresh.rotated", "magic_link.issued",
                       "magic_link.consumed", "session.lookup_failed", "refresh.failed", "session.revoked", "rate_limit.reset"]
        written = 0
        let start = now - Double(counts.auditEvents) * 0.01
        while written < counts.auditEvents {
            let end = min(counts.auditEvents, written + batch)
            // The chain's position is carried in and out, not changed in place: a body that runs
            // again (a PostgreSQL retry) starts from where the last commit left it.
            (seq, previous) = try database.writeSync { [seq, previous] tx in
                var seq = seq, previous = previous
                var events = InsertBatch(tx, """
                    INSERT INTO audit_events (seq, at, actor_type, actor_id, action, target_type, target_id, outcome,
                                              reason, ip, user_agent, request_id, details, prev_hash, hash) VALUES
                    """, row: "(?, ?, ?, ?, ?, 'session', ?, ?, ?, ?, NULL, ?, ?, ?, ?)")
                for index in written..<end {
                    seq += 1
                    let milliseconds = Int64(((start + Double(index) * 0.01) * 1000).rounded())
                    let action = actions[index % actions.count]
                    let failed = action.hasSuffix("failed")
                    let actorType = action == "session.revoked" || action == "rate_limit.reset" ? "operator" : (failed ? "system" : "user")
                    let actorId: String? = actorType == "operator" ? "oncall" : (actorType == "user" ? String(index % 100_000 + 1) : nil)
                    let target = "ses_synthetic" + String(index % 1_000_000)
                    let outcome = failed ? "failure" : "success"
                    let reason: String? = failed ? "unknown" : nil
                    let ip = "198.51.100.\(index % 250 + 1)"
                    let requestId = "req_\(seq)"
                    let details = #"{"token":"\#(Fingerprint.hex(withUnsafeBytes(of: seq.bigEndian) { Array($0) }.suffix(6)))"}"#
                    let canonical = AuditEvent.canonicalEncoding(
                        seq: seq, atMilliseconds: milliseconds, actorType: actorType, actorId: actorId, action: action,
                        targetType: "session", targetId: target, outcome: outcome, reason: reason, ip: ip, userAgent: nil,
                        requestId: requestId, details: details)
                    let hash = AuditEvent.chainHash(previous: previous, canonical: canonical)
                    try events.add([seq, Double(milliseconds) / 1000, actorType, actorId, action, target, outcome,
                                    reason, ip, requestId, details, previous, hash])
                    previous = hash
                }
                try events.flush()
                return (seq, previous)
            }
            done += end - written
            written = end
            progress(done, total)
        }
        // The rows went in around `appendNow`: the per-minute rollup is derived from them.
        if counts.auditEvents > 0 { try database.writeSync { tx in try AuditMinutes.rebuild(in: tx, now: Date(unixSeconds: now)) } }
    }
}
