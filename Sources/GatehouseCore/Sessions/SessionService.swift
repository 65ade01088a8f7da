import Foundation

/// A session that a presented secret proved.
public struct AuthenticatedSession: Sendable, Equatable {
    public var session: Session
    public var user: User
    /// True when the secret was one that `regenerate` replaced and is still inside its grace
    /// period: the caller should serve the request and stop sending that secret.
    public var usedPreviousSecret: Bool
}

/// Server-side sessions: creation, lookup by secret, regeneration, logout and revocation.
public final class SessionService: Sendable {
    let database: GatehouseDatabase
    let clock: any GatehouseClock
    let configuration: GatehouseConfiguration

    init(database: GatehouseDatabase, clock: any GatehouseClock, configuration: GatehouseConfiguration) {
        self.database = database
        self.clock = clock
        self.configuration = configuration
    }

    // MARK: - Creation (inside a caller's transaction)

    /// Inserts a session and, for `web` sessions, its first secret. `api` sessions get a refresh
    /// family name; their first token is issued by `RefreshTokenService`.
    static func create(user: User, kind: Session.Kind, context: ClientContext, configuration: GatehouseConfiguration,
                       in tx: any SQLTransaction, at now: Date) throws -> (Session, SecretToken?) {
        let handle = Handle.make("ses_")
        let family = kind == .api ? Handle.make("fam_") : nil
        let absolute = now.addingTimeInterval(configuration.sessionAbsoluteLifetime)
        let id = try tx.fetchScalar(Int64.self, """
            INSERT INTO sessions (handle, user_id, kind, state, created_at, last_seen_at, idle_timeout,
                                  absolute_expires_at, ip, user_agent, refresh_family)
            VALUES (?, ?, ?, 'active', ?, ?, ?, ?, ?, ?, ?) RETURNING id
            """, [handle, user.id, kind.rawValue, now.unixSeconds, now.unixSeconds,
                  configuration.sessionIdleTimeout, absolute.unixSeconds, context.ip,
                  context.userAgent, family])!
        let session = Session(id: id, handle: handle, userId: user.id, kind: kind, state: .active,
                              endReason: nil, endedBy: nil, endedAt: nil, createdAt: now, lastSeenAt: now,
                              idleTimeout: configuration.sessionIdleTimeout, absoluteExpiresAt: absolute,
                              ip: context.ip, userAgent: context.userAgent, refreshFamily: family)
        var secret: SecretToken? = nil
        var details = ["kind": kind.rawValue, "user": user.email]
        if kind == .web {
            let fresh = SecretToken.generate()
            try insertSecret(fresh.hash, sessionId: session.id, in: tx, at: now)
            details["secret"] = fresh.hash.fingerprint
            secret = fresh
        }
        if let family { details["family"] = family }
        try AuditLog.append(AuditEntry(actor: .user(id: user.id), action: "session.created", targetType: "session",
                                       targetId: handle, context: context, details: details), in: tx, at: now)
        return (session, secret)
    }

    private static func insertSecret(_ hash: SecretHash, sessionId: Int64, in tx: any SQLTransaction, at now: Date) throws {
        try tx.execute("INSERT INTO session_secrets (secret_hash, session_id, created_at) VALUES (?, ?, ?)",
                       [hash.bytes, sessionId, now.unixSeconds])
    }

    // MARK: - Lookup

    private enum SecretLookup {
        case valid(Session, inGrace: Bool)
        case failed(CredentialFailure, Session?)
    }

    private static let secretLookup = """
        SELECT s.*, ss.superseded_at AS secret_superseded_at, ss.grace_until AS secret_grace_until
        FROM session_secrets ss JOIN sessions s ON s.id = ss.session_id
        WHERE ss.secret_hash = ?
        """

    /// `locking`: the secret's row and its session's are locked until the commit (PostgreSQL
    /// `FOR UPDATE`; nothing on SQLite, whose write transaction holds the database). Only in a
    /// write transaction, and only where the secret is then superseded.
    private static func evaluate(_ hash: SecretHash, in tx: any SQLTransaction, at now: Date, locking: Bool = false) throws -> SecretLookup {
        let sql = locking ? secretLookup + tx.dialect.forUpdate : secretLookup
        guard let row = try tx.fetchOne(sql, [hash.bytes]) else { return .failed(.unknown, nil) }
        let session = try Session(row: row)
        if let failure = endedFailure(session) { return .failed(failure, session) }
        if let expiry = session.expiry(at: now) { return .failed(expiry, session) }
        let supersededAt = try row.decode("secret_superseded_at", as: Double?.self)
        if supersededAt != nil {
            let graceUntil = try row.decode("secret_grace_until", as: Double?.self) ?? 0
            if now.unixSeconds > graceUntil { return .failed(.rotated, session) }
            return .valid(session, inGrace: true)
        }
        return .valid(session, inGrace: false)
    }

    /// The failure a session that is no longer active answers with.
    static func endedFailure(_ session: Session) -> CredentialFailure? {
        switch session.state {
        case .active: nil
        case .revoked: .revoked
        case .loggedOut: .loggedOut
        case .expired: CredentialFailure(rawValue: session.endReason ?? "") ?? .expiredIdle
        }
    }

    /// Values of the session cookie tried per request. A browser sends the name more than once
    /// only for cookies of other paths or domains (or another app's of the same name), so a few
    /// cover every honest case, and a request carrying a thousand costs what one with four does.
    public static let maxPresentedSecrets = 4

    /// Finds the session a cookie secret belongs to.
    public func authenticate(secret: String, context: ClientContext = .none, cookieName: String? = nil) async throws -> AuthenticatedSession {
        try await authenticate(anyOf: [secret], context: context, cookieName: cookieName)
    }

    /// Finds the session of the first of `secrets` that works (the first
    /// `maxPresentedSecrets` are tried, the rest ignored).
    ///
    /// The cost is bounded whatever the request carries: one read for every value; a write only
    /// when a session's `last_seen_at` is older than the touch interval, or when no value works:
    /// then one transaction records the most telling refusal (one that names a session before
    /// an unknown value; throttled) and marks a session past its deadline as expired.
    /// `cookieName` is the name the values came under: recorded with a failure, it is what tells
    /// another app's cookie of the same name from ours (`gatehouse explain`).
    public func authenticate(anyOf secrets: [String], context: ClientContext = .none,
                             cookieName: String? = nil) async throws -> AuthenticatedSession {
        let tokens = secrets.prefix(Self.maxPresentedSecrets).map { SecretToken(value: $0) }
        guard !tokens.isEmpty else { throw AuthError.invalidCredential(.malformed) }
        let now = clock.now()
        let touchInterval = configuration.sessionTouchInterval
        // A lookup by hash that only reads: the point-read path.
        let fast = try await database.pointRead { tx -> AuthenticatedSession? in
            for token in tokens where token.isWellFormed {
                guard case .valid(let session, let inGrace) = try Self.evaluate(token.hash, in: tx, at: now) else { continue }
                // A session due for a touch is served by the write below.
                guard now.timeIntervalSince(session.lastSeenAt) < touchInterval else { return nil }
                guard let user = try User.find(id: session.userId, in: tx) else { continue }
                return AuthenticatedSession(session: session, user: user, usedPreviousSecret: inGrace)
            }
            return nil
        }
        if let fast { return fast }
        let policies = configuration.rateLimits.auditFailures
        let result = try await database.write { tx -> Result<AuthenticatedSession, AuthError> in
            var refusals: [(hash: SecretHash, failure: CredentialFailure, session: Session?)] = []
            for token in tokens {
                let lookup: SecretLookup = token.isWellFormed ? try Self.evaluate(token.hash, in: tx, at: now) : .failed(.malformed, nil)
                switch lookup {
                case .valid(var session, let inGrace):
                    guard let user = try User.find(id: session.userId, in: tx) else { continue }
                    if now.timeIntervalSince(session.lastSeenAt) >= touchInterval {
                        try tx.execute("UPDATE sessions SET last_seen_at = ? WHERE id = ?", [now.unixSeconds, session.id])
                        session.lastSeenAt = now
                    }
                    return .success(AuthenticatedSession(session: session, user: user, usedPreviousSecret: inGrace))
                case .failed(let failure, let session):
                    refusals.append((token.hash, failure, session))
                }
            }
            // Every value worked but its user is gone (not reachable while users cascade): unknown.
            guard let (hash, failure, session) = refusals.first(where: { $0.session != nil }) ?? refusals.first else {
                return .failure(.invalidCredential(.unknown))
            }
            if let session, session.state == .active, failure == .expiredIdle || failure == .expiredAbsolute {
                try Self.end(session, state: .expired, reason: failure.rawValue, actor: .system, context: context, in: tx, at: now)
            } else {
                var details = ["secret": hash.fingerprint]
                if let cookieName { details["cookie_name"] = cookieName }
                if tokens.count > 1 || secrets.count > tokens.count { details["values_presented"] = String(secrets.count) }
                if failure == .rotated,
                   let supersededAt = try tx.fetchScalar(Double.self, "SELECT superseded_at FROM session_secrets WHERE secret_hash = ?",
                                                         [hash.bytes]) {
                    // When it was replaced, so that the evidence names the time even when the
                    // regeneration's own row is not at hand.
                    details["superseded_at"] = Timestamp.iso8601(Date(timeIntervalSince1970: supersededAt))
                }
                try AuditLog.appendThrottled(AuditEntry(
                    actor: .system, action: "session.lookup_failed", targetType: "session", targetId: session?.handle,
                    outcome: .failure, reason: failure.rawValue, context: context, details: details),
                    in: tx, at: now, policies: policies)
            }
            return .failure(.invalidCredential(failure))
        }
        return try result.get()
    }

    // MARK: - Regeneration

    /// Gives the session of `secret` a new secret in one transaction.
    ///
    /// The new secret works from the commit on; the old one keeps working until the grace
    /// period ends. Because both facts commit together, a request carrying either secret is
    /// accepted at every instant: there is no window in which the session has no valid secret.
    public func regenerate(secret: String, context: ClientContext = .none) async throws -> (AuthenticatedSession, SecretToken) {
        let presented = SecretToken(value: secret)
        guard presented.isWellFormed else { throw AuthError.invalidCredential(.malformed) }
        let now = clock.now()
        let grace = configuration.sessionRotationGrace
        let result = try await database.write { tx -> Result<(AuthenticatedSession, SecretToken), AuthError> in
            let session: Session
            // Locked: a concurrent regeneration with this secret waits, then finds it superseded (in its grace).
            switch try Self.evaluate(presented.hash, in: tx, at: now, locking: true) {
            case .valid(let found, _): session = found
            case .failed(let failure, _): return .failure(.invalidCredential(failure))
            }
            let (current, fresh) = try Self.rotateSecret(of: session, presented: presented.hash, grace: grace,
                                                         reason: nil, context: context, in: tx, at: now)
            guard let user = try User.find(id: session.userId, in: tx) else { return .failure(.invalidCredential(.unknown)) }
            return .success((AuthenticatedSession(session: current, user: user, usedPreviousSecret: false), fresh))
        }
        return try result.get()
    }

    /// At a browser login: when `cookie` proves an active session of `user`, that session gets
    /// a new secret (the session id changes on login) and is returned; otherwise nil, and the
    /// caller starts a new session. Runs inside the login's transaction.
    static func regenerateOnLogin(cookie: SecretToken, user: User, configuration: GatehouseConfiguration,
                                  context: ClientContext, in tx: any SQLTransaction, at now: Date) throws -> (Session, SecretToken)? {
        // Locked, as in `regenerate`: the presented secret is superseded below.
        guard cookie.isWellFormed, case .valid(let session, _) = try evaluate(cookie.hash, in: tx, at: now, locking: true),
              session.userId == user.id, session.kind == .web else { return nil }
        return try rotateSecret(of: session, presented: cookie.hash, grace: configuration.sessionRotationGrace,
                                reason: "login", context: context, in: tx, at: now)
    }

    /// Supersedes the secret that was presented (valid for `grace` more seconds) and inserts a
    /// new one, with its audit row. Both facts commit together: at no instant does the session
    /// lack a valid secret.
    ///
    /// Only the presented secret is superseded: two logins that overlap in one browser (two
    /// tabs still sending cookie A) each replace A and get their own new secret, and neither
    /// kills the other's. A presented secret already inside its grace keeps its first deadline.
    /// So every superseded secret is named by the regeneration row that replaced it.
    private static func rotateSecret(of session: Session, presented: SecretHash, grace: TimeInterval, reason: String?,
                                     context: ClientContext, in tx: any SQLTransaction, at now: Date) throws -> (Session, SecretToken) {
        let fresh = SecretToken.generate()
        try tx.execute("""
            UPDATE session_secrets SET superseded_at = ?, grace_until = ?
            WHERE secret_hash = ? AND session_id = ? AND superseded_at IS NULL
            """, [now.unixSeconds, now.unixSeconds + grace, presented.bytes, session.id])
        try insertSecret(fresh.hash, sessionId: session.id, in: tx, at: now)
        try tx.execute("UPDATE sessions SET last_seen_at = ? WHERE id = ?", [now.unixSeconds, session.id])
        try AuditLog.append(AuditEntry(
            actor: .user(id: session.userId), action: "session.regenerated", targetType: "session",
            targetId: session.handle, reason: reason, context: context,
            details: ["previous_secret": presented.fingerprint, "secret": fresh.hash.fingerprint,
                      "grace_seconds": String(Int(grace))]), in: tx, at: now)
        var current = session
        current.lastSeenAt = now
        return (current, fresh)
    }

    // MARK: - Ending sessions

    /// Ends a session and every active refresh token of its family, with one audit row.
    /// Returns false, changing nothing, when the session had already ended: on PostgreSQL another
    /// transaction may end it between the caller's read and this update.
    @discardableResult
    static func end(_ session: Session, state: Session.State, reason: String, actor: Actor, context: ClientContext,
                    in tx: any SQLTransaction, at now: Date, details: [String: String] = [:]) throws -> Bool {
        // Conditional on 'active': of two transactions ending one session at once, the second (waiting for the first's commit) changes nothing.
        let ended = try tx.execute("""
            UPDATE sessions SET state = ?, end_reason = ?, ended_by = ?, ended_at = ? WHERE id = ? AND state = 'active'
            """, [state.rawValue, reason, actor.label, now.unixSeconds, session.id])
        guard ended > 0 else { return false }
        let tokens = try RefreshTokenService.revokeActive(sessionId: session.id, reason: reason, in: tx, at: now)
        var details = details
        if tokens > 0 { details["refresh_tokens_revoked"] = String(tokens) }
        let action = switch state {
        case .revoked: "session.revoked"
        case .loggedOut: "session.logged_out"
        case .expired: "session.expired"
        case .active: "session.updated"
        }
        try AuditLog.append(AuditEntry(actor: actor, action: action, targetType: "session", targetId: session.handle,
                                       reason: reason, context: context, details: details), in: tx, at: now)
        return true
    }

    /// The user ends their own session (logout). Idempotent: an ended session stays as it was.
    public func logout(sessionHandle: String, context: ClientContext = .none) async throws {
        let now = clock.now()
        try await database.write { tx in
            guard let session = try Session.find(handle: sessionHandle, in: tx) else { throw AuthError.notFound("session \(sessionHandle)") }
            guard session.state == .active else { return }
            try Self.end(session, state: .loggedOut, reason: CredentialFailure.loggedOut.rawValue,
                         actor: .user(id: session.userId), context: context, in: tx, at: now)
        }
    }

    /// Revokes one session now: its secrets and refresh tokens stop working at the next request.
    /// Returns false when it had already ended.
    @discardableResult
    public func revoke(handle: String, by actor: Actor, reason: String = "revoked by operator") async throws -> Bool {
        let now = clock.now()
        return try await database.write { tx in
            guard let session = try Session.find(handle: handle, in: tx) else { throw AuthError.notFound("session \(handle)") }
            guard session.state == .active else { return false }
            return try Self.end(session, state: .revoked, reason: reason, actor: actor, context: .none, in: tx, at: now)
        }
    }

    /// Revokes every active session of a user; returns the handles it revoked.
    public func revokeAll(email: String, by actor: Actor, reason: String = "revoked by operator") async throws -> [String] {
        let normalized = try EmailAddress.normalize(email)
        let now = clock.now()
        return try await database.write { tx in
            guard let user = try User.find(address: email, in: tx) else { throw AuthError.notFound("user \(normalized)") }
            let sessions = try tx.fetchAll(Session.self, "SELECT * FROM sessions WHERE user_id = ? AND state = 'active'", [user.id])
            // Only those this transaction ended (on PostgreSQL another may end one meanwhile; see `end`).
            return try sessions.filter { session in
                try Self.end(session, state: .revoked, reason: reason, actor: actor, context: .none, in: tx, at: now,
                             details: ["scope": "user"])
            }.map(\.handle)
        }
    }

    // MARK: - Reading

    public struct Filter: Sendable, Equatable {
        public var email: String?
        /// Matches the effective state, so `expired` includes active rows past a deadline.
        public var state: Session.State?
        /// Matched against handle, email, kind, state, IP and user agent.
        public var text: TextFilter?
        public init(email: String? = nil, state: Session.State? = nil, text: TextFilter? = nil) {
            self.email = email
            self.state = state
            self.text = text
        }
    }

    /// The key that orders session listings (newest first) and that `Page` cursors hold.
    public static func pageKey(_ session: Session) -> PageKey { [.int(session.id)] }

    /// One window of sessions, newest first (keyset paging: every page costs the same, however deep).
    public func list(_ filter: Filter = .init(), limit: Int = 100, page: Page = .first) async throws -> [SessionSummary] {
        let now = clock.now().unixSeconds
        var query = ListQuery(dialect: database.dialect)
        if let email = filter.email {
            let address = try User.addressArguments(email)
            query.require("u.id = \(User.idByAddressSQL)", address.exact, address.normalized)
        }
        if let state = filter.state {
            let live = "(s.absolute_expires_at > ? AND s.last_seen_at + s.idle_timeout > ?)"
            switch state {
            case .active: query.require("s.state = 'active' AND \(live)", now, now)
            case .expired: query.require("(s.state = 'expired' OR (s.state = 'active' AND NOT \(live)))", now, now)
            case .revoked, .loggedOut: query.require("s.state = ?", state.rawValue)
            }
        }
        query.match(filter.text, in: "s.handle || ' ' || u.email || ' ' || s.kind || ' ' || s.state || ' ' || coalesce(s.ip, '') || ' ' || coalesce(s.user_agent, '')")
        return try await query.fetch(SessionSummary.self, select: Self.summarySelect, keyColumns: ["s.id"], page: page, limit: limit, from: database)
    }

    static let summarySelect = """
        SELECT s.*, u.email,
               (SELECT count(*) FROM refresh_tokens r WHERE r.session_id = s.id) AS family_size
        FROM sessions s JOIN users u ON u.id = s.user_id
        """

    public func summary(handle: String) async throws -> SessionSummary? {
        try await database.read { tx in
            try tx.fetchOne(SessionSummary.self, "\(Self.summarySelect) WHERE s.handle = ?", [handle])
        }
    }

    public func count(state: Session.State? = nil) async throws -> Int {
        try await database.read { tx in
            if let state {
                return try tx.fetchScalar(Int.self, "SELECT count(*) FROM sessions WHERE state = ?", [state.rawValue]) ?? 0
            }
            return try tx.fetchScalar(Int.self, "SELECT count(*) FROM sessions") ?? 0
        }
    }
}
