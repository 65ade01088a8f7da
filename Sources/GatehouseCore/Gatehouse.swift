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
    public let rateLimits: RateLimiter
    public let audit: AuditLog

    public init(database: GatehouseDatabase, configuration: GatehouseConfiguration = .init(),
                clock: any GatehouseClock = SystemClock()) throws {
        self.database = database
        self.configuration = configuration
        self.clock = clock
        let derivationKey = try ServiceSecrets.key(named: ServiceSecrets.refreshDerivation, in: database, clock: clock)
        accessTokens = AccessTokenIssuer(database: database, clock: clock, configuration: configuration)
        refreshTokens = RefreshTokenService(database: database, clock: clock, configuration: configuration,
                                            accessTokens: accessTokens, derivationKey: derivationKey)
        sessions = SessionService(database: database, clock: clock, configuration: configuration)
        magicLinks = MagicLinkService(database: database, clock: clock, configuration: configuration,
                                      refreshTokens: refreshTokens)
        rateLimits = RateLimiter(database: database, clock: clock)
        audit = AuditLog(database: database, clock: clock,
                         throttlePolicies: [configuration.rateLimits.auditFailuresPerClient,
                                            configuration.rateLimits.auditFailuresTotal])
    }

    /// Opens (and with `createIfMissing`, creates) the database at `path`.
    public static func open(path: String, options: DatabaseOptions = .init(), configuration: GatehouseConfiguration = .init(),
                            clock: any GatehouseClock = SystemClock()) throws -> Gatehouse {
        try Gatehouse(database: GatehouseDatabase.open(path: path, options: options), configuration: configuration, clock: clock)
    }

    /// Verifies an access token and that its session is still active, so that an operator's
    /// revocation cuts access at once rather than when the token expires.
    public func authenticateAccessToken(_ token: String, context: RequestContext = .none) async throws -> AuthenticatedSession {
        let claims = try await accessTokens.verify(token)
        guard let summary = try await sessions.summary(handle: claims.sid) else { throw AuthError.invalidCredential(.unknown) }
        let now = clock.now()
        if let ended = SessionService.endedFailure(summary.session) { throw AuthError.invalidCredential(ended) }
        if let expiry = summary.session.expiry(at: now) { throw AuthError.invalidCredential(expiry) }
        guard let user = try await database.read({ db in try User.find(id: summary.session.userId, in: db) }) else {
            throw AuthError.invalidCredential(.unknown)
        }
        return AuthenticatedSession(session: summary.session, user: user, usedPreviousSecret: false)
    }
}
