import Crypto
import Foundation
import GRDB

/// Keys Gatehouse makes for itself on first use and keeps in the database (mode 0600), so that
/// every process sharing the file derives the same values.
enum ServiceSecrets {
    /// Derives a refresh token's successor from the token (see `SecretToken.derive`).
    static let refreshDerivation = "refresh-derivation"

    /// The named key, created with 256 random bits when absent. Returns nil on a read-only
    /// database that has none yet.
    static func key(named name: String, in database: GatehouseDatabase, clock: any GatehouseClock) throws -> SymmetricKey? {
        if let existing = try database.readSync({ db in try fetch(name, in: db) }) { return existing }
        guard !database.options.readOnly else { return nil }
        return try database.writeSync { db in
            if let existing = try fetch(name, in: db) { return existing }
            let key = SymmetricKey(size: .bits256)
            let bytes = key.withUnsafeBytes { Data($0) }
            try db.execute(sql: "INSERT INTO service_secrets (name, value, created_at) VALUES (?, ?, ?)",
                           arguments: [name, bytes, clock.now().unixSeconds])
            try AuditLog.append(AuditEntry(actor: .system, action: "service_secret.created", targetType: "service_secret",
                                           targetId: name), in: db, at: clock.now())
            return key
        }
    }

    private static func fetch(_ name: String, in db: Database) throws -> SymmetricKey? {
        try Data.fetchOne(db, sql: "SELECT value FROM service_secrets WHERE name = ?", arguments: [name]).map { SymmetricKey(data: $0) }
    }
}
