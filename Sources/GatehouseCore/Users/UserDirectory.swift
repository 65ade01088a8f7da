import Foundation

extension Gatehouse {
    /// Users' email addresses that start with `prefix` (normalised as `EmailAddress` does), in order.
    public func userEmails(startingWith prefix: String, limit: Int = 20) async throws -> [String] {
        try await database.read { tx in
            try tx.fetchColumn(String.self, "SELECT email FROM users WHERE email >= ? AND email < ? ORDER BY email LIMIT ?",
                               PrefixRange.arguments(EmailAddress.normalizedPrefix(prefix), limit: limit))
        }
    }
}

extension User {
    /// The id of the user an address names, in SQL with two arguments (`addressArguments`): the
    /// user stored with exactly the bytes given first, else the user of the normalised address.
    /// Normally the two are one user; they differ only for a user the v4 migration left with its
    /// old spelling because the normalised address was another user's (see `EmailConflict`).
    /// Operator paths and jobs resolve addresses this way, so that what a listing prints names the
    /// user it was printed for; logins never do: they always reach the normalised address.
    static let idByAddressSQL = "COALESCE((SELECT id FROM users WHERE email = ?), (SELECT id FROM users WHERE email = ?))"

    /// The arguments of `idByAddressSQL`: the address as given (trimmed) and normalised.
    static func addressArguments(_ typed: String) throws(AuthError) -> (exact: String, normalized: String) {
        (typed.trimmingCharacters(in: .whitespacesAndNewlines), try EmailAddress.normalize(typed))
    }

    /// The user an address names (see `idByAddressSQL`).
    static func find(address typed: String, in tx: any SQLTransaction) throws -> User? {
        let address = try addressArguments(typed)
        return try tx.fetchOne(User.self, "SELECT * FROM users WHERE id = \(idByAddressSQL)",
                               [address.exact, address.normalized])
    }
}
