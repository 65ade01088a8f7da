import Crypto
import Foundation
import JWTKit

/// A JWT signing key as `gatehouse keys list` shows it. The private half never leaves storage.
public struct SigningKey: Sendable, Equatable, Codable {
    public enum State: String, Sendable, Codable {
        /// Signs new access tokens.
        case current
        /// Rotated out: verifies the tokens it signed and stays in the JWKS until `publishedUntil`.
        case published
        /// Rotated out and past `publishedUntil`: every token it signed has expired.
        case expired
        /// Removed at once (compromise): its tokens are refused, it is not in the JWKS.
        case retired
    }

    public enum Storage: String, Sendable, Codable {
        case database
        /// The private half lives in the signing-key file.
        case keyFile = "key_file"
        /// The private half was wiped (rotated out or retired): the key can no longer sign.
        case wiped
    }

    public var kid: String
    public var algorithm: String
    public var state: State
    public var storage: Storage
    public var createdAt: Date
    public var supersededAt: Date?
    public var publishedUntil: Date?
    public var retiredAt: Date?

    enum CodingKeys: String, CodingKey {
        case kid, algorithm, state, storage
        case createdAt = "created_at"
        case supersededAt = "superseded_at"
        case publishedUntil = "published_until"
        case retiredAt = "retired_at"
    }

    /// One stored row: the key and the PEMs it carries.
    struct Row {
        var key: SigningKey
        var privateKeyPEM: String
        var publicKeyPEM: String?
    }

    static let select = "SELECT * FROM signing_keys"

    static func rows(in tx: any SQLTransaction, at now: Date) throws -> [Row] {
        // The current key is the newest one neither superseded nor retired.
        var currentSeen = false
        // Keys in use first (a rotation may share its second with the key it replaced), then newest first.
        return try tx.fetchAll("""
            \(select) ORDER BY CASE WHEN superseded_at IS NULL AND retired_at IS NULL THEN 0 ELSE 1 END, created_at DESC, kid
            """).map { row in
            let privatePEM: String = try row.decode("private_key_pem")
            let superseded: Date? = try row.decode("superseded_at")
            let publishedUntil: Date? = try row.decode("published_until")
            let retired: Date? = try row.decode("retired_at")
            let state: State
            if retired != nil { state = .retired }
            else if superseded == nil && !currentSeen { state = .current; currentSeen = true }
            else if let publishedUntil, now >= publishedUntil { state = .expired }
            else { state = .published }
            let publicPEM: String? = try row.decode("public_key_pem")
            let storage: Storage = !privatePEM.isEmpty ? .database : (state == .current ? .keyFile : .wiped)
            return Row(key: SigningKey(kid: try row.decode("kid"), algorithm: try row.decode("algorithm"), state: state, storage: storage,
                                       createdAt: try row.decode("created_at"), supersededAt: superseded,
                                       publishedUntil: publishedUntil, retiredAt: retired),
                       privateKeyPEM: privatePEM, publicKeyPEM: publicPEM)
        }
    }
}

/// Rotation and retirement of the JWT signing keys (`gatehouse keys`), and creation of the
/// first one. Every step is one transaction with its audit row.
///
/// - Rotation makes a new key current. The previous one stops signing and its private half is
///   wiped, but the JWKS keeps publishing it, and Gatehouse keeps accepting its tokens, until
///   every token it signed has expired: `publicationWindow` after the rotation.
/// - Retirement (a compromised key) removes a key at once: its tokens are refused and it
///   leaves the JWKS. Retiring the current key makes a new one current in the same step.
/// - Every serving process notices within `AccessTokenIssuer.reloadInterval`; verifiers that
///   cache the JWKS (Cache-Control max-age=300) see a retirement when their copy expires.
public final class SigningKeys: Sendable {
    let database: GatehouseDatabase
    let clock: any GatehouseClock
    let configuration: GatehouseConfiguration
    /// This process's issuer, told at once of a change (other processes notice on their own).
    let issuer: AccessTokenIssuer

    init(database: GatehouseDatabase, clock: any GatehouseClock, configuration: GatehouseConfiguration, issuer: AccessTokenIssuer) {
        self.database = database
        self.clock = clock
        self.configuration = configuration
        self.issuer = issuer
    }

    /// How long a rotated-out key stays published: the access tokens' lifetime, plus the time
    /// other processes take to stop signing with it, plus a minute of clock skew.
    var publicationWindow: TimeInterval {
        configuration.accessTokenTTL + AccessTokenIssuer.reloadInterval.seconds + 60
    }

    /// Every key, newest first.
    public func list() async throws -> [SigningKey] {
        let now = clock.now()
        return try await database.read { tx in try SigningKey.rows(in: tx, at: now).map(\.key) }
    }

    /// Makes a new key current; the previous current key stays published for `publicationWindow`.
    public func rotate(by actor: Actor, context: ClientContext = .none) async throws -> (previous: SigningKey?, current: SigningKey) {
        let now = clock.now()
        let window = publicationWindow
        let fresh = try NewKey()
        let inKeyFile = configuration.signingKeyFile != nil
        let changed = try await changingKeys(adding: fresh) { tx in
            let previous = try SigningKey.rows(in: tx, at: now).first { $0.key.state == .current }
            if let previous { try Self.supersede(previous, until: now.addingTimeInterval(window), in: tx, at: now) }
            try Self.store(fresh, in: tx, at: now, actor: actor, inKeyFile: inKeyFile, reason: "rotation")
            try AuditLog.append(AuditEntry(
                actor: actor, action: "signing_key.rotated", targetType: "signing_key", targetId: fresh.kid, context: context,
                details: ["previous": previous?.key.kid ?? "", "previous_published_until": previous.map { _ in Timestamp.iso8601(now.addingTimeInterval(window)) } ?? ""]),
                in: tx, at: now)
            let rows = try SigningKey.rows(in: tx, at: now)
            return (rows.first { $0.key.kid == previous?.key.kid }?.key, rows.first { $0.key.kid == fresh.kid }!.key)
        }
        // Committed: the previous key no longer signs anywhere, so its private half goes.
        if let previous = changed.0 { try configuration.signingKeyFile?.removeKey(previous.kid, afterCommit: true) }
        return changed
    }

    /// Removes `kid` at once. Returns the retired key and, when it was current, its replacement.
    public func retire(kid: String, by actor: Actor, reason: String, context: ClientContext = .none) async throws
        -> (retired: SigningKey, replacement: SigningKey?) {
        let now = clock.now()
        // A replacement is made ready (in the key file) only when the key is current now.
        let wasCurrent = try await list().first { $0.kid == kid }?.state == .current
        let fresh = wasCurrent ? try NewKey() : nil
        let inKeyFile = configuration.signingKeyFile != nil
        let changed = try await changingKeys(adding: fresh) { tx in
            guard let row = try SigningKey.rows(in: tx, at: now).first(where: { $0.key.kid == kid }) else {
                throw AuthError.notFound("signing key \(kid)")
            }
            guard row.key.state != .retired else { throw SigningKeyError.alreadyRetired(kid) }
            // It became current since the look above (another process rotated): no replacement is ready.
            guard row.key.state != .current || fresh != nil else { throw SigningKeyError.changedMeanwhile(kid) }
            let publicPEM = try row.publicKeyPEM ?? ES256PrivateKey(pem: row.privateKeyPEM).publicKey.pemRepresentation
            try tx.execute("UPDATE signing_keys SET retired_at = ?, private_key_pem = '', public_key_pem = ? WHERE kid = ?",
                           [now.unixSeconds, publicPEM, kid])
            try AuditLog.append(AuditEntry(
                actor: actor, action: "signing_key.retired", targetType: "signing_key", targetId: kid, reason: reason, context: context,
                details: ["was": row.key.state.rawValue]), in: tx, at: now)
            if row.key.state == .current, let fresh {
                try Self.store(fresh, in: tx, at: now, actor: actor, inKeyFile: inKeyFile, reason: "replaces retired \(kid)")
            }
            let rows = try SigningKey.rows(in: tx, at: now)
            return (rows.first { $0.key.kid == kid }!.key, fresh.flatMap { new in rows.first { $0.key.kid == new.kid } }?.key)
        }
        try configuration.signingKeyFile?.removeKey(kid, afterCommit: true)
        // Made ready for a key that was no longer current by the time of the transaction.
        if let fresh, changed.1 == nil { try configuration.signingKeyFile?.removeKey(fresh.kid, afterCommit: true) }
        return changed
    }

    /// Runs `body` in a write transaction under the key lock, with `fresh` written to the key
    /// file first (a transaction may not commit before the file holds the key it names) and
    /// taken out again when the transaction fails. Refuses when the keys live in a key file
    /// this process was not given: a new key would go to the database unnoticed.
    private func changingKeys<T: Sendable>(adding fresh: NewKey?, _ body: @escaping @Sendable (any SQLTransaction) throws -> T) async throws -> T {
        let keyFile = configuration.signingKeyFile
        if keyFile == nil, let current = try await list().first(where: { $0.state == .current }), current.storage == .keyFile {
            throw SigningKeyError.keyFileRequired(kid: current.kid)
        }
        if let keyFile, let fresh { try keyFile.addKey(kid: fresh.kid, privateKeyPEM: fresh.pem) }
        do {
            let result = try await database.write { tx in
                try tx.execute(tx.dialect.advisoryLock(AccessTokenIssuer.keyCreationLock))
                return try body(tx)
            }
            await issuer.forget()
            return result
        } catch {
            if let keyFile, let fresh { try? keyFile.removeKey(fresh.kid) }
            throw error
        }
    }

    /// Stops `row` signing: superseded now, published until `until`, its private half wiped
    /// from the database (from the key file after the commit).
    private static func supersede(_ row: SigningKey.Row, until: Date, in tx: any SQLTransaction, at now: Date) throws {
        let publicPEM = try row.publicKeyPEM ?? ES256PrivateKey(pem: row.privateKeyPEM).publicKey.pemRepresentation
        try tx.execute("""
            UPDATE signing_keys SET superseded_at = ?, published_until = ?, private_key_pem = '', public_key_pem = ? WHERE kid = ?
            """, [now.unixSeconds, until.unixSeconds, publicPEM, row.key.kid])
    }

    /// A key generated outside any transaction: a transaction the engine runs again (PostgreSQL
    /// retries serialisation failures) stores this same key, and the key file can hold it
    /// before the transaction that names it commits.
    struct NewKey: Sendable {
        let kid: String
        let pem: String
        let publicPEM: String

        init() throws {
            let privateKey = ES256PrivateKey()
            kid = try AccessTokenIssuer.keyID(of: privateKey.publicKey)
            pem = privateKey.pemRepresentation
            publicPEM = privateKey.publicKey.pemRepresentation
        }
    }

    /// Stores `key` (its private half in the database unless `inKeyFile`) and audits it.
    static func store(_ key: NewKey, in tx: any SQLTransaction, at now: Date, actor: Actor = .system, inKeyFile: Bool,
                      reason: String? = nil) throws {
        try tx.execute("""
            INSERT INTO signing_keys (kid, algorithm, private_key_pem, public_key_pem, created_at) VALUES (?, 'ES256', ?, ?, ?)
            """, [key.kid, inKeyFile ? "" : key.pem, key.publicPEM, now.unixSeconds])
        var details = ["algorithm": "ES256", "storage": inKeyFile ? "key_file" : "database"]
        if let reason { details["reason"] = reason }
        try AuditLog.append(AuditEntry(actor: actor, action: "signing_key.created", targetType: "signing_key", targetId: key.kid,
                                       details: details), in: tx, at: now)
    }
}

/// Why a key cannot be used or changed, in one sentence for the operator.
public enum SigningKeyError: Error, Equatable, CustomStringConvertible {
    case alreadyRetired(String)
    /// The signing-key file cannot be read or written.
    case keyFile(String)
    /// The current key's private half is in a key file this process was not given, or that lacks it.
    case privateKeyMissing(kid: String, keyFile: String?)
    /// Rotating or retiring while the keys live in a key file this process was not given.
    case keyFileRequired(kid: String)
    /// The key became current between the command's look and its transaction: run it again.
    case changedMeanwhile(String)

    public var description: String {
        switch self {
        case .alreadyRetired(let kid): "signing key \(kid) is already retired"
        case .keyFile(let problem): problem
        case .privateKeyMissing(let kid, nil):
            "the current signing key \(kid) is kept in a signing-key file: give it with --signing-keys FILE ([keys] file, $GATEHOUSE_SIGNING_KEYS)"
        case .changedMeanwhile(let kid): "signing key \(kid) became current meanwhile (another rotation); nothing was changed: run the command again"
        case .keyFileRequired(let kid):
            "the current signing key \(kid) lives in a signing-key file: give it (--signing-keys FILE, [keys] file in --config, $GATEHOUSE_SIGNING_KEYS) so that the new key goes there too"
        case .privateKeyMissing(let kid, let file?):
            "the signing-key file \(file) does not hold the current key \(kid): copy the file from where `gatehouse keys rotate` ran"
        }
    }
}

extension SigningKeyFile {
    /// The file's errors as `SigningKeyError`s, inside a transaction (which they roll back).
    func addKey(kid: String, privateKeyPEM: String) throws {
        do { try add(kid: kid, privateKeyPEM: privateKeyPEM) } catch { throw SigningKeyError.keyFile(error.description) }
    }

    /// `afterCommit`: the database change is made; a failure here says so, with what to remove by hand.
    func removeKey(_ kid: String, afterCommit: Bool = false) throws {
        do { try remove(kid: kid) } catch {
            throw SigningKeyError.keyFile(afterCommit
                ? "the change is committed, but key \(kid)'s private half could not be removed from the key file (\(error.description)): remove it by hand"
                : error.description)
        }
    }

    func loadKeys() throws -> [String: String] {
        do { return try load() } catch { throw SigningKeyError.keyFile(error.description) }
    }
}

extension Duration {
    var seconds: TimeInterval { TimeInterval(components.seconds) + TimeInterval(components.attoseconds) / 1e18 }
}
