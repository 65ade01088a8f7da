import Crypto
import Foundation
import JWTKit

/// The claims of a Gatehouse access token.
public struct AccessTokenClaims: JWTPayload, Equatable {
    public var iss: IssuerClaim
    /// The user id.
    public var sub: SubjectClaim
    /// The session handle: lets a resource server ask whether the session is still active.
    public var sid: String
    public var iat: IssuedAtClaim
    public var exp: ExpirationClaim
    public var jti: IDClaim

    /// Expiry is checked against Gatehouse's injected clock in `AccessTokenIssuer.verify`.
    public func verify(using algorithm: some JWTAlgorithm) throws {}
}

/// Signs and verifies ES256 access tokens and publishes the JWKS.
///
/// The key pair is generated on first use and stored in `signing_keys`, so every process that
/// shares the database signs with the same key and any JWT library can verify a token from the
/// JWKS alone. Dates are written as whole seconds, as strict verifiers expect.
public actor AccessTokenIssuer {
    let database: GatehouseDatabase
    let clock: any GatehouseClock
    let configuration: GatehouseConfiguration

    private var loaded: (keys: JWTKeyCollection, kid: String, publicKey: ES256PublicKey)?

    init(database: GatehouseDatabase, clock: any GatehouseClock, configuration: GatehouseConfiguration) {
        self.database = database
        self.clock = clock
        self.configuration = configuration
    }

    public struct Issued: Sendable {
        public var token: String
        public var expiresIn: Int
    }

    public func issue(for session: Session, user: User) async throws -> Issued {
        let (keys, kid, _) = try await signingKey()
        // Whole seconds: jwt-kit would otherwise write fractional iat/exp.
        let now = Date(timeIntervalSince1970: clock.now().timeIntervalSince1970.rounded(.down))
        let ttl = Int(configuration.accessTokenTTL)
        let claims = AccessTokenClaims(
            iss: .init(value: configuration.accessTokenIssuer), sub: .init(value: String(user.id)), sid: session.handle,
            iat: .init(value: now), exp: .init(value: now.addingTimeInterval(TimeInterval(ttl))),
            jti: .init(value: Handle.make("at_")))
        let token = try await keys.sign(claims, kid: JWKIdentifier(string: kid))
        return Issued(token: token, expiresIn: ttl)
    }

    /// Checks signature, issuer and expiry. Whether the session is still active is the
    /// caller's question (`Gatehouse.authenticateAccessToken` asks it).
    public func verify(_ token: String) async throws -> AccessTokenClaims {
        let (keys, _, _) = try await signingKey()
        let claims: AccessTokenClaims
        do {
            claims = try await keys.verify(token, as: AccessTokenClaims.self)
        } catch {
            throw AuthError.invalidCredential(.malformed)
        }
        guard claims.iss.value == configuration.accessTokenIssuer else { throw AuthError.invalidCredential(.unknown) }
        guard clock.now() < claims.exp.value else { throw AuthError.invalidCredential(.expired) }
        return claims
    }

    /// The JSON Web Key Set with the public signing key.
    public func jwks() async throws -> String {
        let (_, kid, publicKey) = try await signingKey()
        guard let parameters = publicKey.parameters else { throw AuthError.notFound("public key parameters") }
        let key: [String: String] = ["kty": "EC", "crv": "P-256", "alg": "ES256", "use": "sig",
                                     "kid": kid, "x": parameters.x, "y": parameters.y]
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(["keys": [key]]), as: UTF8.self)
    }

    public func keyID() async throws -> String { try await signingKey().1 }

    private func signingKey() async throws -> (JWTKeyCollection, String, ES256PublicKey) {
        if let loaded { return (loaded.keys, loaded.kid, loaded.publicKey) }
        let now = clock.now()
        let readOnly = database.options.readOnly
        let pem: (kid: String, pem: String) = try await {
            if let stored = try await database.read({ tx in try Self.activeKey(in: tx) }) { return stored }
            guard !readOnly else { throw AuthError.notFound("signing key (the database is read-only and has none yet)") }
            return try await database.write { tx in
                // Two processes starting at once (PostgreSQL): the second waits here for the first's commit, then reads its key.
                try tx.execute(tx.dialect.advisoryLock(Self.keyCreationLock))
                // Another process may have created it since the read.
                if let stored = try Self.activeKey(in: tx) { return stored }
                let privateKey = ES256PrivateKey()
                let kid = try Self.keyID(of: privateKey.publicKey)
                try tx.execute("INSERT INTO signing_keys (kid, algorithm, private_key_pem, created_at) VALUES (?, 'ES256', ?, ?)",
                               [kid, privateKey.pemRepresentation, now.unixSeconds])
                try AuditLog.append(AuditEntry(actor: .system, action: "signing_key.created", targetType: "signing_key",
                                               targetId: kid, details: ["algorithm": "ES256"]), in: tx, at: now)
                return (kid, privateKey.pemRepresentation)
            }
        }()
        let privateKey = try ES256PrivateKey(pem: pem.pem)
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .integerSecondsSince1970
        let keys = JWTKeyCollection()
        await keys.add(ecdsa: privateKey, kid: JWKIdentifier(string: pem.kid),
                       serializer: DefaultJWTSerializer(jsonEncoder: encoder))
        loaded = (keys, pem.kid, privateKey.publicKey)
        return (keys, pem.kid, privateKey.publicKey)
    }

    /// The PostgreSQL advisory lock that serialises creating the first signing key ("gatesign"
    /// as a bigint): without it two processes starting at once would each store a key of their own.
    static let keyCreationLock: Int64 = 0x6761_7465_7369_676E

    private static func activeKey(in tx: any SQLTransaction) throws -> (kid: String, pem: String)? {
        guard let row = try tx.fetchOne("""
            SELECT kid, private_key_pem FROM signing_keys WHERE retired_at IS NULL AND algorithm = 'ES256'
            ORDER BY created_at DESC LIMIT 1
            """) else { return nil }
        return try (row.decode("kid", as: String.self), row.decode("private_key_pem", as: String.self))
    }

    /// RFC 7638-style thumbprint, shortened: stable across processes and restarts.
    private static func keyID(of publicKey: ES256PublicKey) throws -> String {
        guard let parameters = publicKey.parameters else { throw AuthError.notFound("public key parameters") }
        let canonical = #"{"crv":"P-256","kty":"EC","x":"\#(parameters.x)","y":"\#(parameters.y)"}"#
        return String(Base64URL.encode(SHA256.hash(data: Data(canonical.utf8))).prefix(16))
    }
}
