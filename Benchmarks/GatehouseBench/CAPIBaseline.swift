import Foundation
import GatehouseCore

/// What a refresh rotation's SQL costs with nothing above SQLite: the very statements
/// `RefreshTokenService.rotate` runs for a successful rotation on SQLite, in its order, through
/// the C API (`CSQLite`) in one `BEGIN IMMEDIATE` transaction each. No hashing, no signing, no
/// JSON: only the database's part, so "Gatehouse ÷ this" is everything Gatehouse adds.
///
/// The statements are copied from the sources named beside each; when those change, change
/// these.
enum CAPIBaseline {
    /// Rotations per second over one family of a session that Gatehouse itself created in `path`.
    static func rotations(path: String, seconds: Double) throws -> Double {
        let db = try CSQLite(path: path)
        // The family Gatehouse made at login: its session, user and active token.
        let start = try db.prepare("""
            SELECT rt.id, rt.token_hash, s.id, s.refresh_family, s.user_id FROM refresh_tokens rt
            JOIN sessions s ON s.id = rt.session_id WHERE rt.state = 'active' ORDER BY rt.id LIMIT 1
            """)
        guard try start.step() else { throw BenchError.unexpected("no active refresh token to rotate") }
        var tokenHash = start.blob(1)
        let family = start.text(3) ?? ""
        start.reset()

        // RateLimiter.consume (twice: the address's budget, then the family's).
        let selectTAT = try db.prepare("SELECT tat, updated_at FROM rate_limit_buckets WHERE key = ?")
        let record = try db.prepare("""
            INSERT INTO rate_limit_buckets (key, policy, "limit", period, tat, allowed_total, blocked_total, last_blocked_at, updated_at)
            VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
            ON CONFLICT(key) DO UPDATE SET
                policy = ?2, "limit" = ?3, period = ?4, tat = ?5,
                allowed_total = rate_limit_buckets.allowed_total + ?6, blocked_total = rate_limit_buckets.blocked_total + ?7,
                last_blocked_at = coalesce(?8, rate_limit_buckets.last_blocked_at), updated_at = ?9
            """)
        // RefreshTokenService.rotate
        let lookup = try db.prepare("""
            SELECT rt.id AS rt_id, rt.state AS rt_state, rt.expires_at AS rt_expires_at, rt.used_at AS rt_used_at, s.*
            FROM sessions s JOIN refresh_tokens rt ON rt.session_id = s.id WHERE rt.token_hash = ?
            """)
        let markUsed = try db.prepare("UPDATE refresh_tokens SET state = 'used', used_at = ? WHERE id = ?")
        // RefreshTokenService.issue
        let insertToken = try db.prepare("""
            INSERT INTO refresh_tokens (token_hash, family, session_id, parent_id, state, issued_at, expires_at)
            VALUES (?, ?, ?, ?, 'active', ?, ?)
            """)
        let touch = try db.prepare("UPDATE sessions SET last_seen_at = ? WHERE id = ?")
        // AuditLog.appendNow and AuditMinutes.count
        let auditHead = try db.prepare("""
            SELECT (SELECT hash FROM audit_events ORDER BY seq DESC LIMIT 1) AS hash,
                   (SELECT seq FROM sqlite_sequence WHERE name = 'audit_events') AS seq
            """)
        let auditInsert = try db.prepare("""
            INSERT INTO audit_events (seq, at, actor_type, actor_id, action, target_type, target_id,
                outcome, reason, ip, user_agent, request_id, details, prev_hash, hash)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """)
        let minutes = try db.prepare("""
            INSERT INTO audit_minutes (minute, action, reason, shard, count, unrecorded, first_seq, last_seq) VALUES (?, ?, ?, ?, 1, ?, ?, ?)
            ON CONFLICT (minute, action, reason, shard) DO UPDATE SET count = audit_minutes.count + 1,
                unrecorded = audit_minutes.unrecorded + excluded.unrecorded,
                first_seq = coalesce(audit_minutes.first_seq, excluded.first_seq),
                last_seq = coalesce(excluded.last_seq, audit_minutes.last_seq)
            """)
        // RefreshTokenService.authenticated → User.find
        let user = try db.prepare("SELECT * FROM users WHERE id = ?")

        func consume(_ policy: String, key: String, now clockNow: Double) throws {
            selectTAT.bind(1, "\(policy):\(key)")
            let found = try selectTAT.step()
            let now = found ? max(clockNow, selectTAT.double(1)) : clockNow
            let tat = found ? selectTAT.double(0) : now
            selectTAT.reset()
            record.bind(1, "\(policy):\(key)")
            record.bind(2, policy)
            record.bind(3, Int64(100_000_000))
            record.bind(4, 1.0)
            record.bind(5, max(tat, now) + 1e-8)
            record.bind(6, Int64(1))
            record.bind(7, Int64(0))
            record.bindNull(8)
            record.bind(9, now)
            try record.run()
        }

        var counter: UInt64 = 0
        func rotate() throws {
            let now = Date().timeIntervalSince1970
            try db.execute("BEGIN IMMEDIATE")
            try consume("refresh-ip", key: "198.51.100.7", now: now)
            lookup.bind(1, tokenHash)
            guard try lookup.step() else { throw BenchError.unexpected("baseline lost its token") }
            // What the decision reads: the token's state and expiry, the session's row.
            let tokenId = lookup.int(0)
            guard lookup.text(1) == "active", lookup.double(2) > now else { throw BenchError.unexpected("baseline token not active") }
            let sessionId = lookup.int(4)
            let handle = lookup.text(5) ?? ""
            let userId = lookup.int(6)
            _ = (lookup.text(8), lookup.double(13), lookup.double(14), lookup.double(15), lookup.text(18))
            lookup.reset()
            try consume("refresh", key: family, now: now)
            markUsed.bind(1, now)
            markUsed.bind(2, tokenId)
            try markUsed.run()
            counter += 1
            let successor = withUnsafeBytes(of: counter.bigEndian) { Array($0) } + Array(repeating: 0x5a, count: 24)
            insertToken.bind(1, successor)
            insertToken.bind(2, family)
            insertToken.bind(3, sessionId)
            insertToken.bind(4, tokenId)
            insertToken.bind(5, now)
            insertToken.bind(6, now + 30 * 86_400)
            try insertToken.run()
            touch.bind(1, now)
            touch.bind(2, sessionId)
            try touch.run()
            try auditHead.step()
            let previous = auditHead.blob(0)
            let seq = auditHead.int(1) + 1
            auditHead.reset()
            auditInsert.bind(1, seq)
            auditInsert.bind(2, (now * 1000).rounded(.down) / 1000)
            auditInsert.bind(3, "user")
            auditInsert.bind(4, String(userId))
            auditInsert.bind(5, "refresh.rotated")
            auditInsert.bind(6, "session")
            auditInsert.bind(7, handle)
            auditInsert.bind(8, "success")
            auditInsert.bindNull(9)
            auditInsert.bind(10, "198.51.100.7")
            auditInsert.bind(11, "gatehouse-bench")
            auditInsert.bindNull(12)
            auditInsert.bind(13, #"{"successor":"0a1b2c3d4e5f6a7b","token":"7b6a5f4e3d2c1b0a"}"#)
            auditInsert.bind(14, previous)
            auditInsert.bind(15, successor)
            try auditInsert.run()
            minutes.bind(1, Int64(now / 60))
            minutes.bind(2, "refresh.rotated")
            minutes.bind(3, "")
            minutes.bind(4, Int64(0))
            minutes.bind(5, Int64(0))
            minutes.bind(6, seq)
            minutes.bind(7, seq)
            try minutes.run()
            user.bind(1, userId)
            guard try user.step() else { throw BenchError.unexpected("baseline lost its user") }
            _ = (user.int(0), user.text(1), user.double(2), user.int(3))
            user.reset()
            try db.execute("COMMIT")
            tokenHash = successor
        }
        return try Measure.syncRate(seconds: seconds, rotate)
    }

    /// Point reads, each its own (implicit) transaction: a prepared `SELECT v FROM t WHERE id = ?`.
    static func pointReads(path: String, rows: Int64, seconds: Double) throws -> Double {
        let db = try CSQLite(path: path)
        let select = try db.prepare("SELECT v FROM t WHERE id = ?")
        var next: Int64 = 0
        return try Measure.syncRate(seconds: seconds) {
            next = next % rows + 1
            select.bind(1, next)
            guard try select.step() else { throw BenchError.unexpected("no row \(next)") }
            _ = select.blob(0)
            select.reset()
        }
    }

    /// Single-row write transactions: `BEGIN IMMEDIATE`, one insert, `COMMIT`.
    static func commits(path: String, seconds: Double) throws -> Double {
        let db = try CSQLite(path: path)
        let insert = try db.prepare("INSERT INTO t (v) VALUES (?)")
        let payload = [UInt8](repeating: 7, count: 64)
        return try Measure.syncRate(seconds: seconds) {
            try db.execute("BEGIN IMMEDIATE")
            insert.bind(1, payload)
            try insert.run()
            try db.execute("COMMIT")
        }
    }
}
