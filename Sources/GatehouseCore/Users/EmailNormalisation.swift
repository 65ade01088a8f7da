import Foundation
import GRDB

/// A user the migration that normalised stored addresses (v4) left as it was: its address,
/// normalised, is another user's (a migration never merges two accounts), or the rule now refuses
/// it. Logins no longer reach it; operator commands still do, by its stored spelling.
public struct EmailConflict: Sendable, Equatable {
    public var userId: Int64
    /// The address as stored (not normalised).
    public var storedEmail: String
    /// The normalised address; nil when the rule refuses the stored one (`problem` says why).
    public var normalizedEmail: String?
    public var problem: String?
    /// The user that has the normalised address and whom logins with either spelling now reach.
    public var keptUserId: Int64?
    /// How many sessions of this user are active, and (the first 1,000 of) their handles.
    public var activeSessionCount: Int
    public var activeSessions: [String]
    public var credits: Int64
}

extension Schema {
    /// v4: addresses stored before the normalisation rule are brought to it, each change audited
    /// as `user.email_normalized`. A user whose normalised address is already another user's (or
    /// whose address the rule refuses) keeps its stored address, is listed in
    /// `user_email_conflicts` and audited as `user.email_conflict`: merging accounts (sessions,
    /// credits, history) is an operator's decision, never a migration's.
    static func normaliseStoredEmails(_ db: Database) throws {
        try db.execute(sql: """
            CREATE TABLE user_email_conflicts (
                user_id           INTEGER PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
                normalized_email  TEXT,
                problem           TEXT,
                found_at          REAL NOT NULL
            );
            """)
        var changes: [(id: Int64, stored: String, normalized: Result<String, AuthError>)] = []
        let rows = try Row.fetchCursor(db, sql: "SELECT id, email FROM users ORDER BY id")
        while let row = try rows.next() {
            let stored: String = row["email"]
            let normalized = Result { () throws(AuthError) -> String in try EmailAddress.normalize(stored) }
            // Compared byte for byte: Swift's `==` holds canonically equivalent strings equal, which is the point here.
            if case .success(let same) = normalized, same.utf8.elementsEqual(stored.utf8) { continue }
            changes.append((row["id"], stored, normalized))
        }
        let now = Date()
        for change in changes {
            var conflict: (normalized: String?, problem: String?)?
            switch change.normalized {
            case .success(let normalized):
                if try Bool.fetchOne(db, sql: "SELECT EXISTS (SELECT 1 FROM users WHERE email = ?)", arguments: [normalized]) ?? false {
                    conflict = (normalized, nil)
                } else {
                    try db.execute(sql: "UPDATE users SET email = ? WHERE id = ?", arguments: [normalized, change.id])
                }
            case .failure(let error):
                conflict = (nil, error.description)
            }
            if let conflict {
                try db.execute(sql: "INSERT INTO user_email_conflicts (user_id, normalized_email, problem, found_at) VALUES (?, ?, ?, ?)",
                               arguments: [change.id, conflict.normalized, conflict.problem, now.timeIntervalSince1970])
            }
            var details = ["user_id": String(change.id), "stored": change.stored]
            details["problem"] = conflict?.problem
            try AuditLog.append(AuditEntry(actor: .system, action: conflict == nil ? "user.email_normalized" : "user.email_conflict",
                                           targetType: "user", targetId: (try? change.normalized.get()) ?? change.stored,
                                           outcome: conflict == nil ? .success : .failure, context: .none, details: details),
                                in: GRDBTransaction(db: db), at: now)
        }
    }
}

extension Gatehouse {
    /// Users the v4 migration left with their stored address; `init` reports them at every run.
    public func emailConflicts() async throws -> [EmailConflict] {
        try await database.read { tx in
            guard try tx.fetchScalar(Bool.self, tx.dialect.tableExists, ["user_email_conflicts"]) ?? false else { return [] }
            let rows = try tx.fetchAll("""
                SELECT c.user_id, u.email, c.normalized_email, c.problem, k.id AS kept_id, u.credits,
                       (SELECT count(*) FROM sessions s WHERE s.user_id = c.user_id AND s.state = 'active') AS active
                FROM user_email_conflicts c JOIN users u ON u.id = c.user_id
                LEFT JOIN users k ON k.email = c.normalized_email AND k.id != c.user_id ORDER BY c.user_id
                """)
            return try rows.map { row in
                let userId = try row.decode("user_id", as: Int64.self)
                let sessions = try tx.fetchColumn(String.self, """
                    SELECT handle FROM sessions WHERE user_id = ? AND state = 'active' ORDER BY id LIMIT 1000
                    """, [userId])
                return try EmailConflict(userId: userId, storedEmail: row.decode("email"), normalizedEmail: row.decode("normalized_email"),
                                         problem: row.decode("problem"), keptUserId: row.decode("kept_id"), activeSessionCount: row.decode("active"),
                                         activeSessions: sessions, credits: row.decode("credits"))
            }
        }
    }
}
