import Foundation

/// "Everything issued before this instant must die": for one user after a password change or
/// a stolen device, for everyone after a signing-key compromise.
extension SessionService {
    /// Sessions revoked per transaction: a revocation of a million sessions never holds the
    /// database (or the audit chain's lock) for more than one batch.
    static let revokeBatch = 1_000

    /// How many active sessions were created before `cutoff` (of `email`'s user, or of everyone
    /// when nil): what a confirmation names.
    /// - Throws: `AuthError.notFound` for an address no user has.
    public func countActive(issuedBefore cutoff: Date, email: String?) async throws -> Int {
        try await database.read { tx in
            let (condition, arguments) = try Self.issuedBefore(cutoff, email: email, in: tx)
            return try tx.fetchScalar(Int.self, "SELECT count(*) FROM sessions WHERE \(condition)", arguments) ?? 0
        }
    }

    /// Revokes every active session created before `cutoff` (of `email`'s user, or of everyone
    /// when nil) with its refresh family, in batches of `revokeBatch`. Each session gets its
    /// `session.revoked` audit row; one `sessions.revoked_before` row sums the action up.
    /// Sessions created after `cutoff` (a login after the password change) are untouched; a
    /// cutoff later than now is taken as now. Returns how many it revoked.
    /// - Throws: `AuthError.notFound` for an address no user has.
    @discardableResult
    public func revoke(issuedBefore requested: Date, email: String?, by actor: Actor, reason: String? = nil) async throws -> Int {
        // A time still to come would also take the logins made while this runs, after the
        // operator saw the count: it means now.
        let cutoff = min(requested, clock.now())
        let reason = reason ?? "issued before \(Timestamp.iso8601(cutoff))"
        var total = 0
        // By id, onward from the last batch: each batch reads only rows it has not seen.
        var after: Int64 = 0
        while true {
            let now = clock.now()
            let start = after
            let (last, revoked) = try await database.write { tx -> (Int64?, Int) in
                var (condition, arguments) = try Self.issuedBefore(cutoff, email: email, in: tx)
                arguments.append(start)
                let sessions = try tx.fetchAll(Session.self, "SELECT * FROM sessions WHERE \(condition) AND id > ? ORDER BY id LIMIT \(Self.revokeBatch)",
                                               arguments)
                let revoked = try sessions.filter { session in
                    try Self.end(session, state: .revoked, reason: reason, actor: actor, context: .none, in: tx, at: now,
                                 details: ["scope": email == nil ? "all" : "user", "issued_before": Timestamp.iso8601(cutoff)])
                }.count
                return (sessions.last?.id, revoked)
            }
            guard let last else { break }
            after = last
            total += revoked
        }
        let now = clock.now()
        let normalized = try email.map(EmailAddress.normalize)
        let revoked = total
        try await database.write { tx in
            try AuditLog.append(AuditEntry(actor: actor, action: "sessions.revoked_before", targetType: normalized == nil ? "all" : "user",
                                           targetId: normalized, reason: reason,
                                           details: ["issued_before": Timestamp.iso8601(cutoff), "revoked": String(revoked)]), in: tx, at: now)
        }
        return total
    }

    /// The condition for active sessions created before `cutoff`, of one user or of all.
    private static func issuedBefore(_ cutoff: Date, email: String?, in tx: any SQLTransaction) throws -> (String, SQLArguments) {
        guard let email else { return ("state = 'active' AND created_at < ?", [cutoff.unixSeconds]) }
        guard let user = try User.find(address: email, in: tx) else { throw AuthError.notFound("user \(email)") }
        return ("state = 'active' AND created_at < ? AND user_id = ?", [cutoff.unixSeconds, user.id])
    }
}
