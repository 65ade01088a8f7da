import Foundation

/// What `requestMagicLink` did. `token` is for tests and `serve --dev`; the mail has it too.
public struct MagicLinkRequest: Sendable {
    public var user: User
    public var token: SecretToken
    public var expiresAt: Date
    public var outboxId: Int64
    /// The tighter of the per-IP and per-email buckets after this request.
    public var rateLimit: RateLimitDecision
}

/// How a successful login proves itself from now on.
public enum LoginCredential: Sendable, Equatable {
    /// A `web` session's cookie value.
    case cookie(SecretToken)
    /// An `api` session's tokens.
    case tokens(TokenPair)
}

public struct Login: Sendable {
    public var user: User
    public var session: Session
    public var credential: LoginCredential
    /// True when a browser that was already signed in as this user kept its session and got a
    /// regenerated secret, rather than a new session.
    public var regenerated = false
    /// The `verify` bucket after this request, for the API's `RateLimit` headers.
    public var rateLimit: RateLimitDecision?
}

/// Passwordless login: a single-use link by mail, exchanged for a session.
public final class MagicLinkService: Sendable {
    let database: GatehouseDatabase
    let clock: any GatehouseClock
    let configuration: GatehouseConfiguration
    let refreshTokens: RefreshTokenService

    init(database: GatehouseDatabase, clock: any GatehouseClock, configuration: GatehouseConfiguration,
         refreshTokens: RefreshTokenService) {
        self.database = database
        self.clock = clock
        self.configuration = configuration
        self.refreshTokens = refreshTokens
    }

    /// Issues a link for `email` (creating the user on first use) and puts the mail in the outbox,
    /// queued for delivery when mail is sent (`MailSettings.delivery`), in one transaction.
    public func requestMagicLink(email: String, context: ClientContext = .none) async throws -> MagicLinkRequest {
        let normalized = try EmailAddress.normalize(email)
        let now = clock.now()
        let configuration = configuration
        let result = try await database.write { tx -> Result<MagicLinkRequest, AuthError> in
            let policies = configuration.rateLimits
            var tightest: RateLimitDecision? = nil
            for (policy, key) in [(policies.magicLinkIP, context.clientKey), (policies.magicLinkEmail, normalized)] {
                let decision = try RateLimiter.consume(policy: policy, key: key, in: tx, at: now)
                if !decision.allowed {
                    // "I never got the email": forensics must be able to say the request was refused.
                    try AuditLog.appendThrottled(AuditEntry(
                        actor: .system, action: "magic_link.rate_limited", targetType: "user", targetId: normalized,
                        outcome: .denied, reason: "rate_limited", context: context,
                        details: ["policy": policy.rateDescription, "policy_name": policy.name,
                                  "bucket": RateLimiter.bucketKey(policy: policy, key: key)]),
                        in: tx, at: now, policies: configuration.rateLimits.auditFailures)
                    return .failure(.rateLimited(decision))
                }
                if tightest.map({ decision.remaining < $0.remaining }) ?? true { tightest = decision }
            }
            let user = try User.findOrCreate(email: normalized, in: tx, at: now, context: context)
            let token = SecretToken.generate()
            let expiresAt = now.addingTimeInterval(configuration.magicLinkTTL)
            let linkId = try tx.fetchScalar(Int64.self, """
                INSERT INTO magic_links (token_hash, user_id, created_at, expires_at, ip, user_agent)
                VALUES (?, ?, ?, ?, ?, ?) RETURNING id
                """, [token.hash.bytes, user.id, now.unixSeconds, expiresAt.unixSeconds, context.ip, context.userAgent])!
            let mail = configuration.mail
            let text = mail.template.render(link: mail.link(token: token.value), email: normalized,
                                            lifetime: configuration.magicLinkTTL, expiresAt: expiresAt)
            let sending = mail.delivery == .sendmail
            // The token rests in `link_secret` (and the body) only until the handover scrubs it.
            let outboxId = try tx.fetchScalar(Int64.self, """
                INSERT INTO outbox (created_at, recipient, subject, body, sender, magic_link_id, link_secret, delivery)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id
                """, [now.unixSeconds, normalized, text.subject, text.body, mail.from, linkId, sending ? token.value : nil,
                      sending ? OutboxMessage.Delivery.queued.rawValue : OutboxMessage.Delivery.stored.rawValue])!
            if sending { try MailDelivery.enqueue(message: outboxId, for: user, context: context, in: tx, at: now) }
            try AuditLog.append(AuditEntry(
                actor: .user(id: user.id), action: "magic_link.issued", targetType: "user", targetId: normalized,
                context: context, details: ["link": token.hash.fingerprint, "message": String(outboxId),
                                            "delivery": sending ? "queued" : "stored"]), in: tx, at: now)
            return .success(MagicLinkRequest(user: user, token: token, expiresAt: expiresAt, outboxId: outboxId,
                                             rateLimit: tightest!))
        }
        return try result.get()
    }

    /// Exchanges a link for a new session of `kind`: a cookie secret for `web`, an access and
    /// refresh token pair for `api`. Each link works once.
    ///
    /// A browser that presents (among `currentCookies`) the cookie of an active session of the same user keeps that
    /// session and gets a regenerated secret (the session id changes on login, so a planted id
    /// is worthless, while requests still carrying the old cookie are served during the grace).
    /// Any other cookie is ignored and a new session begins.
    public func verifyMagicLink(token: String, kind: Session.Kind = .api, context: ClientContext = .none,
                                currentCookies: [String] = []) async throws -> Login {
        let presented = SecretToken(value: token)
        let now = clock.now()
        let configuration = configuration
        let key = try refreshTokens.requiredKey
        /// The session, and the secret that proves it: a cookie (web) or a first refresh token (api).
        typealias Created = (user: User, session: Session, secret: SecretToken, regenerated: Bool, limit: RateLimitDecision)
        let result = try await database.write { tx -> Result<Created, AuthError> in
            let decision = try RateLimiter.consume(policy: configuration.rateLimits.verify, key: context.clientKey, in: tx, at: now)
            guard decision.allowed else { return .failure(.rateLimited(decision)) }
            func fail(_ failure: CredentialFailure, user: String? = nil) throws -> Result<Created, AuthError> {
                try AuditLog.appendThrottled(AuditEntry(
                    actor: .system, action: "magic_link.failed", targetType: "user", targetId: user, outcome: .failure,
                    reason: failure.rawValue, context: context, details: ["link": presented.hash.fingerprint]),
                    in: tx, at: now, policies: configuration.rateLimits.auditFailures)
                return .failure(.invalidCredential(failure))
            }
            guard presented.isWellFormed else { return try fail(.malformed) }
            guard let link = try tx.fetchOne("""
                SELECT m.id, m.expires_at, m.consumed_at, u.email FROM magic_links m JOIN users u ON u.id = m.user_id
                WHERE m.token_hash = ?
                """, [presented.hash.bytes]) else { return try fail(.unknown) }
            let email: String = try link.decode("email")
            if try link.decode("consumed_at", as: Double?.self) != nil { return try fail(.alreadyUsed, user: email) }
            if try now.unixSeconds >= link.decode("expires_at", as: Double.self) { return try fail(.expired, user: email) }

            let linkId: Int64 = try link.decode("id")
            // Conditional (PostgreSQL): of two verifications racing with one link, only one consumes it.
            let consumed = try tx.execute("UPDATE magic_links SET consumed_at = ? WHERE id = ? AND consumed_at IS NULL",
                                          [now.unixSeconds, linkId])
            guard consumed == 1 else { return try fail(.alreadyUsed, user: email) }
            guard let user = try User.find(email: email, in: tx) else { return try fail(.unknown) }
            try AuditLog.append(AuditEntry(
                actor: .user(id: user.id), action: "magic_link.consumed", targetType: "user", targetId: email,
                context: context, details: ["link": presented.hash.fingerprint]), in: tx, at: now)
            if kind == .web {
                for cookie in currentCookies.prefix(SessionService.maxPresentedSecrets) {
                    if let (session, fresh) = try SessionService.regenerateOnLogin(
                        cookie: SecretToken(value: cookie), user: user, configuration: configuration, context: context, in: tx, at: now) {
                        return .success((user, session, fresh, true, decision))
                    }
                }
            }
            let (session, cookie) = try SessionService.create(user: user, kind: kind, context: context,
                                                              configuration: configuration, in: tx, at: now)
            if let cookie { return .success((user, session, cookie, false, decision)) }
            let refresh = try RefreshTokenService.issue(session: session, parent: nil, key: key, ttl: configuration.refreshTokenTTL, in: tx, at: now)
            return .success((user, session, refresh, false, decision))
        }
        let created = try result.get()
        if kind == .web {
            return Login(user: created.user, session: created.session, credential: .cookie(created.secret),
                         regenerated: created.regenerated, rateLimit: created.limit)
        }
        // Signed after the commit: signing is the slow part and needs no lock.
        let access = try await refreshTokens.accessTokens.issue(for: created.session, user: created.user)
        return Login(user: created.user, session: created.session, credential: .tokens(TokenPair(
            accessToken: access.token, refreshToken: created.secret, expiresIn: access.expiresIn,
            sessionHandle: created.session.handle)), rateLimit: created.limit)
    }

    /// The newest mails for `recipient`, newest first: the development sink's content, and each
    /// mail's delivery.
    public func outbox(recipient: String? = nil, limit: Int = 20) async throws -> [OutboxMessage] {
        let normalized = try recipient.map { try EmailAddress.normalize($0) }
        return try await database.read { tx in
            if let normalized {
                return try tx.fetchAll(OutboxMessage.self, "SELECT * FROM outbox WHERE recipient = ? ORDER BY id DESC LIMIT ?", [normalized, limit])
            }
            return try tx.fetchAll(OutboxMessage.self, "SELECT * FROM outbox ORDER BY id DESC LIMIT ?", [limit])
        }
    }
}
