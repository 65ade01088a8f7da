import Crypto
import Foundation

/// Keys Gatehouse makes for itself on first use and keeps in the database (mode 0600), so that
/// every process sharing the file derives the same values.
enum ServiceSecrets {
    /// Derives a refresh token's successor from the token (see `SecretToken.derive`).
    static let refreshDerivation = "refresh-derivation"

    /// The named key, created with 256 random bits when absent. Returns nil on a read-only
    /// database that has none yet.
    static func key(named name: String, in database: GatehouseDatabase, clock: any GatehouseClock) throws -> SymmetricKey? {
        if let existing = try database.readSync({ tx in try fetch(name, in: tx) }) { return existing }
        guard !database.options.readOnly else { return nil }
        return try database.writeSync { tx in
            if let existing = try fetch(name, in: tx) { return existing }
            let key = SymmetricKey(size: .bits256)
            let bytes = key.withUnsafeBytes { Data($0) }
            // Two processes starting at once (PostgreSQL): the second insert waits for the first's
            // commit and then inserts nothing; both go on with the one stored key.
            let inserted = try tx.execute("INSERT INTO service_secrets (name, value, created_at) VALUES (?, ?, ?) ON CONFLICT (name) DO NOTHING",
                                          [name, bytes, clock.now().unixSeconds])
            guard inserted == 1 else {
                guard let stored = try fetch(name, in: tx) else { throw AuthError.notFound("service secret \(name)") }
                return stored
            }
            try AuditLog.append(AuditEntry(actor: .system, action: "service_secret.created", targetType: "service_secret",
                                           targetId: name), in: tx, at: clock.now())
            return key
        }
    }

    private static func fetch(_ name: String, in tx: any SQLTransaction) throws -> SymmetricKey? {
        try tx.fetchScalar(Data.self, "SELECT value FROM service_secrets WHERE name = ?", [name]).map { SymmetricKey(data: $0) }
    }
}
