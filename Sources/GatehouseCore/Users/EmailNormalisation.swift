import Foundation
import GRDB

/// A user whose stored address became another user's once normalised (`EmailAddress`): the
/// migration that normalised stored addresses left it as it was rather than merge two accounts.
public struct EmailConflict: Sendable, Equatable {
    public var userId: Int64
    /// The address as stored (not normalised): logins no longer reach this user.
    public var storedEmail: String
    public var normalizedEmail: String
    /// The user that has the normalised address and whom logins with either spelling now reach.
    public var keptUserId: Int64?
    public var activeSessions: [String]
    public var credits: Int64
}

extension Schema {
    /// v4: addresses stored before the normalisation rule are brought to it, each change audited
    /// as `user.email_normalized`. When two users become one address, the later one keeps its
    /// stored address, is listed in `user_email_conflicts` and audited as `user.email_conflict`:
    /// merging accounts (sessions, credits, history) is an operator's decision, never a migration's.
    static func normaliseStoredEmails(_ db: Database) throws {
        try db.execute(sql: """
            CREATE TABLE user_email_conflicts (
                user_id           INTEGER PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
                normalized_email  TEXT NOT NULL,
                found_at          REAL NOT NULL
            );
            """)
        var changes: [(id: Int64, stored: String, normalized: String)] = []
        let rows = try Row.fetchCursor(db, sql: "SELECT id, email FROM users ORDER BY id")
        while let row = try rows.next() {
            let stored: String = row["email"]
            // An address the rule now refuses stays as it was: it can no longer log in, nothing else changes.
            // Compared byte for byte: Swift's `==` holds canonically equivalent strings equal, which is the point here.
            guard let normalized = try? EmailAddress.normalize(stored), !normalized.utf8.elementsEqual(stored.utf8) else { continue }
            changes.append((row["id"], stored, normalized))
        }
        let now = Date()
        for change in changes {
            let taken = try Bool.fetchOne(db, sql: "SELECT EXISTS (SELECT 1 FROM users WHERE email = ?)", arguments: [change.normalized]) ?? false
            if taken {
                try db.execute(sql: "INSERT INTO user_email_conflicts (user_id, normalized_email, found_at) VALUES (?, ?, ?)",
                               arguments: [change.id, change.normalized, now.timeIntervalSince1970])
            } else {
                try db.execute(sql: "UPDATE users SET email = ? WHERE id = ?", arguments: [change.normalized, change.id])
            }
            try AuditLog.append(AuditEntry(actor: .system, action: taken ? "user.email_conflict" : "user.email_normalized",
                                           targetType: "user", targetId: change.normalized, outcome: taken ? .failure : .success,
                                           context: .none, details: ["user_id": String(change.id), "stored": change.stored]),
                                in: db, at: now)
        }
    }
}

extension Gatehouse {
    /// Users whose stored address collides with another user's once normalised; `init` reports them.
    public func emailConflicts() async throws -> [EmailConflict] {
        try await database.read { db in
            guard try db.tableExists("user_email_conflicts") else { return [] }
            let rows = try Row.fetchAll(db, sql: """
                SELECT c.user_id, u.email, c.normalized_email, k.id AS kept_id, u.credits
                FROM user_email_conflicts c JOIN users u ON u.id = c.user_id
                LEFT JOIN users k ON k.email = c.normalized_email ORDER BY c.user_id
                """)
            return try rows.map { row in
                let sessions = try String.fetchAll(db, sql: """
                    SELECT handle FROM sessions WHERE user_id = ? AND state = 'active' ORDER BY id LIMIT 20
                    """, arguments: [row["user_id"] as Int64])
                return EmailConflict(userId: row["user_id"], storedEmail: row["email"], normalizedEmail: row["normalized_email"],
                                     keptUserId: row["kept_id"], activeSessions: sessions, credits: row["credits"])
            }
        }
    }
}
