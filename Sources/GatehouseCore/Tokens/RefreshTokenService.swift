import Crypto
import Foundation

/// Rotating refresh tokens with reuse detection.
///
/// Each session of kind `api` owns one family. Every refresh marks the presented token `used`
/// and issues its successor in the same transaction as the audit row and the rate-limit check.
/// The successor is derived from the presented token with a service key, so two clients that
/// race with the same token both get the same successor and the lineage never forks.
public final class RefreshTokenService: Sendable {
    let database: GatehouseDatabase
    let clock: any GatehouseClock
    let configuration: GatehouseConfiguration
    let accessTokens: AccessTokenIssuer
    let derivationKey: SymmetricKey?

    init(database: GatehouseDatabase, clock: any GatehouseClock, configuration: GatehouseConfiguration,
         accessTokens: AccessTokenIssuer, derivationKey: SymmetricKey?) {
        self.database = database
        self.clock = clock
        self.configuration = configuration
        self.accessTokens = accessTokens
        self.derivationKey = derivationKey
    }

    // MARK: - Issuing (inside a caller's transaction)

    /// Inserts the first token of a session's family, or the successor of `parent`.
    static func issue(session: Session, parent: (id: Int64, secret: SecretToken)?, key: SymmetricKey,
                      ttl: TimeInterval, in tx: any SQLTransaction, at now: Date) throws -> SecretToken {
        guard let family = session.refreshFamily else { throw AuthError.notFound("refresh family of \(session.handle)") }
        let secret = parent.map { SecretToken.derive(from: $0.secret, key: key) } ?? SecretToken.generate()
        try tx.execute("""
            INSERT INTO refresh_tokens (token_hash, family, session_id, parent_id, state, issued_at, expires_at)
            VALUES (?, ?, ?, ?, 'active', ?, ?)
            """, [secret.hash.bytes, family, session.id, parent?.id, now.unixSeconds,
                  now.addingTimeInterval(ttl).unixSeconds])
        return secret
    }

    /// Revokes the active tokens of a session; returns how many.
    static func revokeActive(sessionId: Int64, reason: String, in tx: any SQLTransaction, at now: Date) throws -> Int {
        try tx.execute("""
            UPDATE refresh_tokens SET state = 'revoked', revoked_at = ?, revoked_reason = ?
            WHERE session_id = ? AND state = 'active'
            """, [now.unixSeconds, reason, sessionId])
    }

    var requiredKey: SymmetricKey {
        get throws {
            guard let derivationKey else { throw AuthError.notFound("refresh derivation key (the database is read-only)") }
            return derivationKey
        }
    }

    // MARK: - Refresh

    private enum RefreshOutcome {
        case rotated(AuthenticatedSession, SecretToken, RateLimitDecision)
        case failed(AuthError)
    }

    /// Exchanges a refresh token for a new access token and the family's next refresh token.
    public func refresh(_ presented: String, context: ClientContext = .none) async throws -> TokenPair {
        let token = SecretToken(value: presented)
        let key = try requiredKey
        let now = clock.now()
        let configuration = configuration
        let outcome = try await database.write { tx -> RefreshOutcome in
            try Self.rotate(token, key: key, configuration: configuration, context: context, in: tx, at: now)
        }
        switch outcome {
        case .failed(let error):
            throw error
        case .rotated(let authenticated, let successor, let limit):
            let access = try await accessTokens.issue(for: authenticated.session, user: authenticated.user)
            return TokenPair(accessToken: access.token, refreshToken: successor, expiresIn: access.expiresIn,
                             sessionHandle: authenticated.session.handle, rateLimit: limit)
        }
    }

    /// The whole refresh decision in one transaction. Failures are returned rather than thrown
    /// so that what they record (blocked counts, evidence rows) commits.
    private static func rotate(_ token: SecretToken, key: SymmetricKey, configuration: GatehouseConfiguration,
                               context: ClientContext, in tx: any SQLTransaction, at now: Date) throws -> RefreshOutcome {
        let policies = configuration.rateLimits.auditFailures
        func fail(_ failure: CredentialFailure, _ session: Session?, tokenFingerprint: String? = nil) throws -> RefreshOutcome {
            var details: [String: String] = [:]
            if let tokenFingerprint { details["token"] = tokenFingerprint }
            if let family = session?.refreshFamily { details["family"] = family }
            try AuditLog.appendThrottled(AuditEntry(
                actor: .system, action: "refresh.failed", targetType: "session", targetId: session?.handle,
                outcome: .failure, reason: failure.rawValue, context: context, details: details),
                in: tx, at: now, policies: policies)
            return .failed(.invalidCredential(failure))
        }

        // Two budgets: the address's (loose, against spraying) before any lookup, then the
        // family's (the real limit) once the token names one. A request the first refuses is
        // not charged to the second.
        let perAddress = try RateLimiter.consume(policy: configuration.rateLimits.refreshPerAddress, key: context.clientKey,
                                                 in: tx, at: now)
        guard token.isWellFormed else {
            return perAddress.allowed ? try fail(.malformed, nil) : .failed(.rateLimited(perAddress))
        }
        let hash = token.hash
        // Locked (PostgreSQL): a second presenter of this token waits for the first's commit, then sees `used`.
        // Sessions first in FROM: PostgreSQL locks in that order, as `SessionService.end` does (session, then tokens).
        guard let row = try tx.fetchOne("""
            SELECT rt.id AS rt_id, rt.state AS rt_state, rt.expires_at AS rt_expires_at, rt.used_at AS rt_used_at, s.*
            FROM sessions s JOIN refresh_tokens rt ON rt.session_id = s.id WHERE rt.token_hash = ?\(tx.dialect.forUpdate)
            """, [hash.bytes]) else {
            return perAddress.allowed ? try fail(.unknown, nil, tokenFingerprint: hash.fingerprint) : .failed(.rateLimited(perAddress))
        }
        let session = try Session(row: row)
        // A replay (a token already used, outside the concurrency grace) is detected whatever the
        // family's budget says: the thief's request must not wait behind the owner's refreshes.
        let usedAt: Double = try row.decode("rt_used_at", as: Double?.self) ?? 0
        let replayed = row["rt_state"] == .text(RefreshToken.State.used.rawValue)
            && RefreshReuseClass.classify(elapsed: now.unixSeconds - usedAt, grace: configuration.refreshReuseGrace) != .concurrent
        let limit = perAddress.allowed && !replayed
            ? try RateLimiter.consume(policy: configuration.rateLimits.refresh, key: session.refreshFamily ?? session.handle, in: tx, at: now)
            : perAddress
        guard limit.allowed else {
            // Recorded against the session: a client that treats 429 as "logged out" is a cause
            // that forensics must be able to name.
            try AuditLog.appendThrottled(AuditEntry(
                actor: .system, action: "refresh.rate_limited", targetType: "session", targetId: session.handle,
                outcome: .denied, reason: "rate_limited", context: context,
                details: ["token": hash.fingerprint, "policy": limit.policy.rateDescription, "policy_name": limit.policy.name,
                          "bucket": RateLimiter.bucketKey(policy: limit.policy, key: limit.key)]),
                in: tx, at: now, policies: policies)
            return .failed(.rateLimited(limit))
        }

        let tokenId: Int64 = try row.decode("rt_id")
        let state = try RefreshToken.State(rawValue: row.decode("rt_state", as: String.self)) ?? .revoked
        if let ended = SessionService.endedFailure(session) {
            return try fail(ended, session, tokenFingerprint: hash.fingerprint)
        }
        if let expiry = session.expiry(at: now) {
            try SessionService.end(session, state: .expired, reason: expiry.rawValue, actor: .system, context: context, in: tx, at: now)
            return .failed(.invalidCredential(expiry))
        }

        switch state {
        case .revoked:
            return try fail(.revoked, session, tokenFingerprint: hash.fingerprint)
        case .reused:
            return try fail(.reused, session, tokenFingerprint: hash.fingerprint)
        case .active:
            let expiresAt: Double = try row.decode("rt_expires_at")
            if now.unixSeconds >= expiresAt { return try fail(.expired, session, tokenFingerprint: hash.fingerprint) }
            try tx.execute("UPDATE refresh_tokens SET state = 'used', used_at = ? WHERE id = ?", [now.unixSeconds, tokenId])
            let successor = try issue(session: session, parent: (tokenId, token), key: key, ttl: configuration.refreshTokenTTL, in: tx, at: now)
            try touch(session, in: tx, at: now)
            try AuditLog.append(AuditEntry(
                actor: .user(id: session.userId), action: "refresh.rotated", targetType: "session", targetId: session.handle,
                context: context, details: ["token": hash.fingerprint, "successor": successor.hash.fingerprint]),
                in: tx, at: now)
            return try authenticated(session, successor, limit, in: tx, at: now)
        case .used:
            let elapsed = now.unixSeconds - usedAt
            let reuseClass = RefreshReuseClass.classify(elapsed: elapsed, grace: configuration.refreshReuseGrace)
            let elapsedText = String(format: "%.3f", elapsed)
            if reuseClass == .concurrent {
                // The race's loser gets the very successor the winner got; nothing new is issued.
                let successor = SecretToken.derive(from: token, key: key)
                let childState = try tx.fetchScalar(String.self, "SELECT state FROM refresh_tokens WHERE token_hash = ?",
                                                    [successor.hash.bytes])
                guard childState == RefreshToken.State.active.rawValue || childState == RefreshToken.State.used.rawValue else {
                    return try fail(.revoked, session, tokenFingerprint: hash.fingerprint)
                }
                try touch(session, in: tx, at: now)
                try AuditLog.appendThrottled(AuditEntry(
                    actor: .user(id: session.userId), action: "refresh.reuse_benign", targetType: "session",
                    targetId: session.handle, reason: reuseClass.rawValue, context: context,
                    details: ["token": hash.fingerprint, "successor": successor.hash.fingerprint,
                              "seconds_after_rotation": elapsedText]), in: tx, at: now, policies: policies)
                return try authenticated(session, successor, limit, in: tx, at: now)
            }
            try tx.execute("UPDATE refresh_tokens SET state = 'reused', revoked_at = ?, revoked_reason = 'reuse_detected' WHERE id = ?",
                           [now.unixSeconds, tokenId])
            try AuditLog.append(AuditEntry(
                actor: .system, action: "refresh.reuse_detected", targetType: "session", targetId: session.handle,
                outcome: .denied, reason: reuseClass.rawValue, context: context,
                details: ["token": hash.fingerprint, "family": session.refreshFamily ?? "",
                          "seconds_after_rotation": elapsedText, "class": reuseClass.rawValue]), in: tx, at: now)
            try SessionService.end(session, state: .revoked, reason: "refresh_reuse", actor: .system, context: context,
                                   in: tx, at: now, details: ["token": hash.fingerprint, "class": reuseClass.rawValue])
            return .failed(.invalidCredential(.reused))
        }
    }

    private static func touch(_ session: Session, in tx: any SQLTransaction, at now: Date) throws {
        try tx.execute("UPDATE sessions SET last_seen_at = ? WHERE id = ?", [now.unixSeconds, session.id])
    }

    private static func authenticated(_ session: Session, _ successor: SecretToken, _ limit: RateLimitDecision,
                                      in tx: any SQLTransaction, at now: Date) throws -> RefreshOutcome {
        guard let user = try User.find(id: session.userId, in: tx) else { return .failed(.invalidCredential(.unknown)) }
        var current = session
        current.lastSeenAt = now
        return .rotated(AuthenticatedSession(session: current, user: user, usedPreviousSecret: false), successor, limit)
    }

    // MARK: - Revocation

    /// Finds a token by the secret itself (a leaked value someone pasted) or by a fingerprint
    /// prefix of at least 4 hex characters; exactly one must match.
    public func find(_ tokenOrFingerprint: String) async throws -> RefreshToken {
        let input = tokenOrFingerprint.trimmingCharacters(in: .whitespaces)
        return try await database.read { tx in
            let secret = SecretToken(value: input)
            if secret.isWellFormed,
               let token = try tx.fetchOne(RefreshToken.self, "SELECT * FROM refresh_tokens WHERE token_hash = ?", [secret.hash.bytes]) {
                return token
            }
            guard let range = Fingerprint.hashRange(forPrefix: input) else {
                throw AuthError.notFound("refresh token '\(input.prefix(12))…' (give the token or its fingerprint)")
            }
            let matches = try tx.fetchAll(RefreshToken.self, """
                SELECT * FROM refresh_tokens WHERE token_hash >= ? AND token_hash < ? LIMIT 2
                """, [range.lower, range.upper])
            guard matches.count == 1 else {
                throw AuthError.notFound(matches.isEmpty ? "refresh token with fingerprint \(input)"
                                                         : "a unique refresh token for fingerprint \(input) (give more characters)")
            }
            return matches[0]
        }
    }

    /// Revokes one token. Returns false when it was no longer active.
    @discardableResult
    public func revoke(tokenOrFingerprint: String, by actor: Actor, reason: String = "revoked by operator") async throws -> Bool {
        let token = try await find(tokenOrFingerprint)
        let now = clock.now()
        return try await database.write { tx in
            let revoked = try tx.execute("""
                UPDATE refresh_tokens SET state = 'revoked', revoked_at = ?, revoked_reason = ? WHERE id = ? AND state = 'active'
                """, [now.unixSeconds, reason, token.id])
            guard revoked == 1 else { return false }
            let handle = try tx.fetchScalar(String.self, "SELECT handle FROM sessions WHERE id = ?", [token.sessionId])
            try AuditLog.append(AuditEntry(
                actor: actor, action: "refresh_token.revoked", targetType: "session", targetId: handle, reason: reason,
                details: ["token": token.fingerprint, "family": token.family]), in: tx, at: now)
            return true
        }
    }

    /// Revokes every active token of a family; the session stays (revoke the session to cut
    /// its current access tokens off too). Returns how many tokens it revoked.
    public func revokeFamily(_ family: String, by actor: Actor, reason: String = "revoked by operator") async throws -> Int {
        let now = clock.now()
        return try await database.write { tx in
            // The session row locked first, as a rotation locks it: a refresh in flight commits its
            // successor before this revocation reads the family's active tokens, so none escapes.
            guard let session = try tx.fetchOne(Session.self, "SELECT * FROM sessions WHERE refresh_family = ?\(tx.dialect.forUpdate)",
                                                [family]) else {
                throw AuthError.notFound("refresh family \(family)")
            }
            let count = try Self.revokeActive(sessionId: session.id, reason: reason, in: tx, at: now)
            try AuditLog.append(AuditEntry(
                actor: actor, action: "refresh_family.revoked", targetType: "session", targetId: session.handle,
                reason: reason, details: ["family": family, "tokens_revoked": String(count)]), in: tx, at: now)
            return count
        }
    }

    // MARK: - Reading

    public struct Filter: Sendable, Equatable {
        public var sessionHandle: String?
        public var family: String?
        public var email: String?
        public var state: RefreshToken.State?
        /// Matched against family, session handle, email, state and fingerprint.
        public var text: TextFilter?
        public init(sessionHandle: String? = nil, family: String? = nil, email: String? = nil,
                    state: RefreshToken.State? = nil, text: TextFilter? = nil) {
            self.sessionHandle = sessionHandle
            self.family = family
            self.email = email
            self.state = state
            self.text = text
        }
    }

    /// Tokens list grouped by family: newest session first, newest token first within it.
    public static func pageKey(_ token: RefreshToken) -> PageKey { [.int(token.sessionId), .int(token.id)] }

    /// One window of tokens in family order; keyset paging as for sessions.
    public func list(_ filter: Filter = .init(), limit: Int = 100, page: Page = .first) async throws -> [RefreshTokenSummary] {
        var query = ListQuery(dialect: database.dialect)
        if let handle = filter.sessionHandle { query.require("s.handle = ?", handle) }
        if let family = filter.family { query.require("rt.family = ?", family) }
        if let email = filter.email {
            let address = try User.addressArguments(email)
            query.require("u.id = \(User.idByAddressSQL)", address.exact, address.normalized)
        }
        if let state = filter.state { query.require("rt.state = ?", state.rawValue) }
        query.match(filter.text, in: "rt.family || ' ' || s.handle || ' ' || u.email || ' ' || rt.state || ' ' || \(database.dialect.hexPrefix("rt.token_hash", bytes: 6))")
        return try await query.fetch(RefreshTokenSummary.self, select: """
            SELECT rt.*, s.handle AS session_handle, u.email, p.token_hash AS parent_hash
            FROM refresh_tokens rt
            JOIN sessions s ON s.id = rt.session_id
            JOIN users u ON u.id = s.user_id
            LEFT JOIN refresh_tokens p ON p.id = rt.parent_id
            """, keyColumns: ["rt.session_id", "rt.id"], page: page, limit: limit, from: database)
    }
}
