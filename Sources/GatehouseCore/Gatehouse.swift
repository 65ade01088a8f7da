import Foundation

/// The embedded auth service layer over one SQLite file: what `serve`, `console` and the CLI
/// each open. Services share the database, the clock and the configuration.
public final class Gatehouse: Sendable {
    public let database: GatehouseDatabase
    public let configuration: GatehouseConfiguration
    public let clock: any GatehouseClock

    public let magicLinks: MagicLinkService
    public let sessions: SessionService
    public let refreshTokens: RefreshTokenService
    public let accessTokens: AccessTokenIssuer
    public let signingKeys: SigningKeys
    public let rateLimits: RateLimiter
    public let audit: AuditLog
    public let payments: PaymentWebhookService
    public let jobs: JobQueue
    public let forensics: Forensics

    public init(database: GatehouseDatabase, configuration: GatehouseConfiguration = .init(),
                clock: any GatehouseClock = SystemClock()) throws {
        self.database = database
        self.configuration = configuration
        self.clock = clock
        let derivationKey = try ServiceSecrets.key(named: ServiceSecrets.refreshDerivation, in: database, clock: clock)
        accessTokens = AccessTokenIssuer(database: database, clock: clock, configuration: configuration)
        signingKeys = SigningKeys(database: database, clock: clock, configuration: configuration, issuer: accessTokens)
        refreshTokens = RefreshTokenService(database: database, clock: clock, configuration: configuration,
                                            accessTokens: accessTokens, derivationKey: derivationKey)
        sessions = SessionService(database: database, clock: clock, configuration: configuration)
        magicLinks = MagicLinkService(database: database, clock: clock, configuration: configuration,
                                      refreshTokens: refreshTokens)
        forensics = Forensics(database: database, clock: clock, configuration: configuration)
        rateLimits = RateLimiter(database: database, clock: clock)
        audit = AuditLog(database: database, clock: clock)
        payments = PaymentWebhookService(database: database, clock: clock)
        jobs = JobQueue(database: database, clock: clock)
    }

    /// Opens (and with `createIfMissing`, creates) the database at `path`.
    public static func open(path: String, options: DatabaseOptions = .init(), configuration: GatehouseConfiguration = .init(),
                            clock: any GatehouseClock = SystemClock()) throws -> Gatehouse {
        try Gatehouse(database: GatehouseDatabase.open(path: path, options: options), configuration: configuration, clock: clock)
    }

    /// Verifies an access token and that its session is still active, so that an operator's
    /// revocation cuts access at once rather than when the token expires. A refusal is recorded
    /// (throttled) with its reason and, when the token named one, the session.
    public func authenticateAccessToken(_ token: String, context: ClientContext = .none) async throws -> AuthenticatedSession {
        var sessionHandle: String? = nil
        do {
            let claims = try await accessTokens.verify(token)
            sessionHandle = claims.sid
            let now = clock.now()
            let found = try await database.read { db -> (Session, User)? in
                guard let session = try Session.find(handle: claims.sid, in: db),
                      let user = try User.find(id: session.userId, in: db) else { return nil }
                return (session, user)
            }
            guard let (session, user) = found else { throw AuthError.invalidCredential(.unknown) }
            if let ended = SessionService.endedFailure(session) { throw AuthError.invalidCredential(ended) }
            if let expiry = session.expiry(at: now) { throw AuthError.invalidCredential(expiry) }
            return AuthenticatedSession(session: session, user: user, usedPreviousSecret: false)
        } catch AuthError.invalidCredential(let failure) {
            let now = clock.now()
            let policies = configuration.rateLimits.auditFailures
            let entry = AuditEntry(actor: .system, action: "access_token.rejected", targetType: "session",
                                   targetId: sessionHandle, outcome: .failure, reason: failure.rawValue, context: context)
            if !database.options.readOnly {
                try await database.write { db in try AuditLog.appendThrottled(entry, in: db, at: now, policies: policies) }
            }
            throw AuthError.invalidCredential(failure)
        }
    }
}
