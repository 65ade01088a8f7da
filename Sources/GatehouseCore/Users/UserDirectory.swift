import Foundation
import GRDB

extension Gatehouse {
    /// Users' email addresses that start with `prefix` (normalised as `EmailAddress` does), in order.
    public func userEmails(startingWith prefix: String, limit: Int = 20) async throws -> [String] {
        try await database.read { db in
            try String.fetchAll(db, sql: "SELECT email FROM users WHERE email >= ? AND email < ? ORDER BY email LIMIT ?",
                                arguments: PrefixRange.arguments(EmailAddress.normalizedPrefix(prefix), limit: limit))
        }
    }
}
