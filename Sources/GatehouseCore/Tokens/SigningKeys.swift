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
        let keyFile = configuration.signingKeyFile
        let changed = try await database.write { tx in
            try tx.execute(tx.dialect.advisoryLock(AccessTokenIssuer.keyCreationLock))
            let previous = try SigningKey.rows(in: tx, at: now).first { $0.key.state == .current }
            if let previous { try Self.supersede(previous, until: now.addingTimeInterval(window), in: tx, at: now, keyFile: keyFile) }
            let kid = try Self.create(in: tx, at: now, actor: actor, keyFile: keyFile, reason: "rotation")
            try AuditLog.append(AuditEntry(
                actor: actor, action: "signing_key.rotated", targetType: "signing_key", targetId: kid, context: context,
                details: ["previous": previous?.key.kid ?? "", "previous_published_until": previous.map { _ in Timestamp.iso8601(now.addingTimeInterval(window)) } ?? ""]),
                in: tx, at: now)
            let rows = try SigningKey.rows(in: tx, at: now)
            return (rows.first { $0.key.kid == previous?.key.kid }?.key, rows.first { $0.key.kid == kid }!.key)
        }
        await issuer.forget()
        return changed
    }

    /// Removes `kid` at once. Returns the retired key and, when it was current, its replacement.
    public func retire(kid: String, by actor: Actor, reason: String, context: ClientContext = .none) async throws
        -> (retired: SigningKey, replacement: SigningKey?) {
        let now = clock.now()
        let keyFile = configuration.signingKeyFile
        let changed = try await database.write { tx in
            try tx.execute(tx.dialect.advisoryLock(AccessTokenIssuer.keyCreationLock))
            guard let row = try SigningKey.rows(in: tx, at: now).first(where: { $0.key.kid == kid }) else {
                throw AuthError.notFound("signing key \(kid)")
            }
            guard row.key.state != .retired else { throw SigningKeyError.alreadyRetired(kid) }
            try tx.execute("UPDATE signing_keys SET retired_at = ?, private_key_pem = '' WHERE kid = ?", [now.unixSeconds, kid])
            try keyFile?.removeKey(kid)
            try AuditLog.append(AuditEntry(
                actor: actor, action: "signing_key.retired", targetType: "signing_key", targetId: kid, reason: reason, context: context,
                details: ["was": row.key.state.rawValue]), in: tx, at: now)
            var replacement: String?
            if row.key.state == .current {
                replacement = try Self.create(in: tx, at: now, actor: actor, keyFile: keyFile, reason: "replaces retired \(kid)")
            }
            let rows = try SigningKey.rows(in: tx, at: now)
            return (rows.first { $0.key.kid == kid }!.key, replacement.flatMap { new in rows.first { $0.key.kid == new }?.key })
        }
        await issuer.forget()
        return changed
    }

    /// Stops `row` signing: superseded now, published until `until`, its private half wiped.
    private static func supersede(_ row: SigningKey.Row, until: Date, in tx: any SQLTransaction, at now: Date, keyFile: SigningKeyFile?) throws {
        let publicPEM = try row.publicKeyPEM ?? ES256PrivateKey(pem: row.privateKeyPEM).publicKey.pemRepresentation
        try tx.execute("""
            UPDATE signing_keys SET superseded_at = ?, published_until = ?, private_key_pem = '', public_key_pem = ? WHERE kid = ?
            """, [now.unixSeconds, until.unixSeconds, publicPEM, row.key.kid])
        try keyFile?.removeKey(row.key.kid)
    }

    /// Generates a key, stores it (the private half in the key file when one is configured) and
    /// audits it. Returns its kid.
    @discardableResult
    static func create(in tx: any SQLTransaction, at now: Date, actor: Actor = .system, keyFile: SigningKeyFile?, reason: String? = nil) throws -> String {
        let privateKey = ES256PrivateKey()
        let kid = try AccessTokenIssuer.keyID(of: privateKey.publicKey)
        if let keyFile { try keyFile.addKey(kid: kid, privateKeyPEM: privateKey.pemRepresentation) }
        try tx.execute("""
            INSERT INTO signing_keys (kid, algorithm, private_key_pem, public_key_pem, created_at) VALUES (?, 'ES256', ?, ?, ?)
            """, [kid, keyFile == nil ? privateKey.pemRepresentation : "", privateKey.publicKey.pemRepresentation, now.unixSeconds])
        var details = ["algorithm": "ES256", "storage": keyFile == nil ? "database" : "key_file"]
        if let reason { details["reason"] = reason }
        try AuditLog.append(AuditEntry(actor: actor, action: "signing_key.created", targetType: "signing_key", targetId: kid,
                                       details: details), in: tx, at: now)
        return kid
    }
}

/// Why a key cannot be used or changed, in one sentence for the operator.
public enum SigningKeyError: Error, Equatable, CustomStringConvertible {
    case alreadyRetired(String)
    /// The signing-key file cannot be read or written.
    case keyFile(String)
    /// The current key's private half is in a key file this process was not given, or that lacks it.
    case privateKeyMissing(kid: String, keyFile: String?)

    public var description: String {
        switch self {
        case .alreadyRetired(let kid): "signing key \(kid) is already retired"
        case .keyFile(let problem): problem
        case .privateKeyMissing(let kid, nil):
            "the current signing key \(kid) is kept in a signing-key file: give it with --signing-keys FILE ([keys] file, $GATEHOUSE_SIGNING_KEYS)"
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

    func removeKey(_ kid: String) throws {
        do { try remove(kid: kid) } catch { throw SigningKeyError.keyFile(error.description) }
    }

    func loadKeys() throws -> [String: String] {
        do { return try load() } catch { throw SigningKeyError.keyFile(error.description) }
    }
}

extension Duration {
    var seconds: TimeInterval { TimeInterval(components.seconds) + TimeInterval(components.attoseconds) / 1e18 }
}
