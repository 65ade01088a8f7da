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
/// The keys live in `signing_keys` (private halves there or in the signing-key file), so every
/// process that shares the database signs with the same current key and any JWT library can
/// verify a token from the JWKS alone. The first key is generated on first use; `SigningKeys`
/// rotates and retires them. Each process reloads the key set at most `reloadInterval` after
/// a change (and at once when a token names a key it has not seen). Dates are written as whole
/// seconds, as strict verifiers expect.
public actor AccessTokenIssuer {
    let database: GatehouseDatabase
    let clock: any GatehouseClock
    let configuration: GatehouseConfiguration

    /// How stale a process's view of the keys may be: a rotation or retirement reaches every
    /// serving process within this.
    public static let reloadInterval = Duration.seconds(2)

    /// The keys this process signs and verifies with, as loaded.
    private struct Keyring {
        /// The current key's private half, or why this process cannot sign (a key file it lacks):
        /// verifying needs only public keys, so a node without the new key still verifies.
        var signer: Result<(kid: String, keys: JWTKeyCollection), SigningKeyError>
        /// Public halves of the current and published keys: what verifies and what the JWKS lists.
        var verifier: JWTKeyCollection
        var verifying: [(kid: String, publicKey: ES256PublicKey)]
        /// Keys whose tokens are refused by name: retired (`revoked`) and rotated out long ago (`expired`).
        var refused: [String: CredentialFailure]
        /// The rows it was built from (kid and state), to rebuild only after a change.
        var version: [String]
        var loadedAt: ContinuousClock.Instant
    }

    private var ring: Keyring?
    /// Bumped by `forget()`: a reload that began before it is not installed over what follows.
    private var generation = 0

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
        let ring = try await keyring()
        // Whole seconds: jwt-kit would otherwise write fractional iat/exp.
        let now = Date(timeIntervalSince1970: clock.now().timeIntervalSince1970.rounded(.down))
        let ttl = Int(configuration.accessTokenTTL)
        let claims = AccessTokenClaims(
            iss: .init(value: configuration.accessTokenIssuer), sub: .init(value: String(user.id)), sid: session.handle,
            iat: .init(value: now), exp: .init(value: now.addingTimeInterval(TimeInterval(ttl))),
            jti: .init(value: Handle.make("at_")))
        let signer = try ring.signer.get()
        let token = try await signer.keys.sign(claims, kid: JWKIdentifier(string: signer.kid))
        return Issued(token: token, expiresIn: ttl)
    }

    /// Checks signature, issuer and expiry. A token of a retired key is `revoked`; of a key
    /// rotated out so long ago that every token it signed has expired, `expired`. Whether the
    /// session is still active is the caller's question (`Gatehouse.authenticateAccessToken`).
    public func verify(_ token: String) async throws -> AccessTokenClaims {
        var ring = try await keyring()
        if let kid = Self.headerKid(token), !ring.verifying.contains(where: { $0.kid == kid }) {
            // A key another process made current a moment ago, or one retired there: look once
            // more (at most every 100 ms, so that made-up kids cannot turn requests into reads).
            if ring.refused[kid] == nil, ContinuousClock.now - ring.loadedAt > .milliseconds(100) { ring = try await keyring(force: true) }
            if !ring.verifying.contains(where: { $0.kid == kid }) {
                throw AuthError.invalidCredential(ring.refused[kid] ?? .unknown)
            }
        }
        let claims: AccessTokenClaims
        do {
            claims = try await ring.verifier.verify(token, as: AccessTokenClaims.self)
        } catch {
            throw AuthError.invalidCredential(.malformed)
        }
        guard claims.iss.value == configuration.accessTokenIssuer else { throw AuthError.invalidCredential(.unknown) }
        guard clock.now() < claims.exp.value else { throw AuthError.invalidCredential(.expired) }
        return claims
    }

    /// The JSON Web Key Set (RFC 7517): the current key and every rotated-out key still
    /// published, current first.
    public func jwks() async throws -> String {
        let ring = try await keyring()
        let keys: [[String: String]] = try ring.verifying.map { entry in
            guard let parameters = entry.publicKey.parameters else { throw AuthError.notFound("public key parameters") }
            return ["kty": "EC", "crv": "P-256", "alg": "ES256", "use": "sig", "kid": entry.kid, "x": parameters.x, "y": parameters.y]
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(["keys": keys]), as: UTF8.self)
    }

    /// Drops the loaded keys: the next use reads them again (after this process changed them).
    func forget() {
        ring = nil
        generation += 1
    }

    /// The current key's id (creating the first key when there is none).
    public func keyID() async throws -> String { try await keyring(force: true).signer.get().kid }

    private func keyring(force: Bool = false) async throws -> Keyring {
        if !force, let ring, ContinuousClock.now - ring.loadedAt < Self.reloadInterval { return ring }
        let started = generation
        let now = clock.now()
        var rows = try await database.read { tx in try SigningKey.rows(in: tx, at: now) }
        if !rows.contains(where: { $0.key.state == .current }) { rows = try await createFirstKey(at: now) }
        let version = rows.map { "\($0.key.kid):\($0.key.state.rawValue)" }
        if var ring, ring.version == version {
            ring.loadedAt = .now
            if generation == started { self.ring = ring }
            return ring
        }
        let built = try await build(rows, version: version)
        // Another reload (or a change made here) finished while this one waited: keep the newer.
        if generation == started { ring = built }
        return built
    }

    /// The first key, made by whichever process gets there first.
    private func createFirstKey(at now: Date) async throws -> [SigningKey.Row] {
        guard !database.options.readOnly else { throw AuthError.notFound("signing key (the database is read-only and has none yet)") }
        let keyFile = configuration.signingKeyFile
        let fresh = try SigningKeys.NewKey()
        if let keyFile { try keyFile.addKey(kid: fresh.kid, privateKeyPEM: fresh.pem) }
        let (rows, stored) = try await database.write { tx in
            // Two processes starting at once (PostgreSQL): the second waits here for the first's commit, then reads its key.
            try tx.execute(tx.dialect.advisoryLock(Self.keyCreationLock))
            // Another process may have created it since the read.
            var stored = false
            if try !SigningKey.rows(in: tx, at: now).contains(where: { $0.key.state == .current }) {
                try SigningKeys.store(fresh, in: tx, at: now, inKeyFile: keyFile != nil)
                stored = true
            }
            return (try SigningKey.rows(in: tx, at: now), stored)
        }
        if !stored, let keyFile { try? keyFile.removeKey(fresh.kid) }
        return rows
    }

    private func build(_ rows: [SigningKey.Row], version: [String]) async throws -> Keyring {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .integerSecondsSince1970
        let serializer = DefaultJWTSerializer(jsonEncoder: TokenJSONEncoder(fallback: encoder))
        let verifier = JWTKeyCollection()
        var verifying: [(kid: String, publicKey: ES256PublicKey)] = []
        var refused: [String: CredentialFailure] = [:]
        for row in rows {
            switch row.key.state {
            case .current, .published:
                let publicKey = try row.publicKeyPEM.map { try ES256PublicKey(pem: $0) } ?? ES256PrivateKey(pem: row.privateKeyPEM).publicKey
                await verifier.add(ecdsa: publicKey, kid: JWKIdentifier(string: row.key.kid), serializer: serializer)
                verifying.append((row.key.kid, publicKey))
            case .retired: refused[row.key.kid] = .revoked
            case .expired: refused[row.key.kid] = .expired
            }
        }
        let current = rows.first { $0.key.state == .current }!
        let signer: Result<(kid: String, keys: JWTKeyCollection), SigningKeyError>
        let privatePEM = current.privateKeyPEM.isEmpty ? try configuration.signingKeyFile?.loadKeys()[current.key.kid] : current.privateKeyPEM
        if let privatePEM {
            let keys = JWTKeyCollection()
            await keys.add(ecdsa: try ES256PrivateKey(pem: privatePEM), kid: JWKIdentifier(string: current.key.kid), serializer: serializer)
            signer = .success((current.key.kid, keys))
        } else {
            signer = .failure(.privateKeyMissing(kid: current.key.kid, keyFile: configuration.signingKeyFile?.path))
        }
        return Keyring(signer: signer, verifier: verifier, verifying: verifying, refused: refused, version: version, loadedAt: .now)
    }

    /// The `kid` of a JWS compact serialisation's header, without verifying anything.
    static func headerKid(_ token: String) -> String? {
        guard let header = token.split(separator: ".", maxSplits: 1).first, header.utf8.count <= 1024,
              let data = Base64URL.decode(String(header)),
              let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else { return nil }
        return object["kid"] as? String
    }

    /// The PostgreSQL advisory lock that serialises creating, rotating and retiring keys
    /// ("gatesign" as a bigint): without it two processes starting at once would each store a
    /// key of their own.
    static let keyCreationLock: Int64 = 0x6761_7465_7369_676E

    /// The RFC 7638 thumbprint (SHA-256 of the canonical JWK), its first 64 bits in lowercase
    /// hex: stable across processes and restarts. Hex, not base64url: an operator passes a kid
    /// to `keys retire` as an argument, and one in 32 base64url kids began with "-", which a
    /// command line reads as an option. (Keys made before keep their kids; the CLI takes
    /// such a kid after `--`.)
    static func keyID(of publicKey: ES256PublicKey) throws -> String {
        guard let parameters = publicKey.parameters else { throw AuthError.notFound("public key parameters") }
        let canonical = #"{"crv":"P-256","kty":"EC","x":"\#(parameters.x)","y":"\#(parameters.y)"}"#
        return Fingerprint.hex(Array(SHA256.hash(data: Data(canonical.utf8))).prefix(8))
    }
}
