import Foundation
import GRDB

/// Prefix look-ups over indexed text keys, for completion in the console's command palette.
/// A range on the index (`key >= prefix AND key < prefix + U+10FFFF`), never a scan.
enum PrefixRange {
    static func arguments(_ prefix: String, limit: Int) -> StatementArguments {
        [prefix, prefix + "\u{10FFFF}", limit]
    }
}

extension Gatehouse {
    /// Users' email addresses that start with `prefix` (lower case), in order.
    public func userEmails(startingWith prefix: String, limit: Int = 20) async throws -> [String] {
        try await database.read { db in
            try String.fetchAll(db, sql: "SELECT email FROM users WHERE email >= ? AND email < ? ORDER BY email LIMIT ?",
                                arguments: PrefixRange.arguments(prefix.lowercased(), limit: limit))
        }
    }
}

extension RateLimiter {
    /// Bucket keys that start with `prefix`, in order.
    public func keys(startingWith prefix: String, limit: Int = 20) async throws -> [String] {
        try await database.read { db in
            try String.fetchAll(db, sql: "SELECT key FROM rate_limit_buckets WHERE key >= ? AND key < ? ORDER BY key LIMIT ?",
                                arguments: PrefixRange.arguments(prefix, limit: limit))
        }
    }
}
