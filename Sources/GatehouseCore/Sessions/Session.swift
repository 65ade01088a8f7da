import Foundation

/// A login. Operators know it by `handle`; clients prove it with a rotating secret (a cookie
/// for `web` sessions, the refresh-token family for `api` sessions).
public struct Session: Sendable, Equatable, Codable, SQLRecord {
    public enum Kind: String, Sendable, Codable, CaseIterable { case web, api }
    public enum State: String, Sendable, Codable, CaseIterable {
        case active
        case loggedOut = "logged_out"
        case revoked
        case expired
    }

    public var id: Int64
    public var handle: String
    public var userId: Int64
    public var kind: Kind
    /// The stored state. An `active` row past its deadlines is reported by `effectiveState`.
    public var state: State
    /// Why it ended: a `CredentialFailure` raw value or an operator's reason.
    public var endReason: String?
    /// `Actor.label` of whoever ended it.
    public var endedBy: String?
    public var endedAt: Date?
    public var createdAt: Date
    public var lastSeenAt: Date
    public var idleTimeout: TimeInterval
    public var absoluteExpiresAt: Date
    public var ip: String?
    public var userAgent: String?
    public var refreshFamily: String?

    enum CodingKeys: String, CodingKey {
        case id, handle, kind, state, ip
        case userId = "user_id", endReason = "end_reason", endedBy = "ended_by", endedAt = "ended_at"
        case createdAt = "created_at", lastSeenAt = "last_seen_at", idleTimeout = "idle_timeout"
        case absoluteExpiresAt = "absolute_expires_at", userAgent = "user_agent"
        case refreshFamily = "refresh_family"
    }

    /// Decoded by hand: GRDB's Codable path cost ~5% of a refresh (every lookup decodes a session).
    public init(row: SQLRow) throws {
        id = try row.decode("id")
        handle = try row.decode("handle")
        userId = try row.decode("user_id")
        kind = try Kind(rawValue: row.decode("kind")) ?? .web
        state = try State(rawValue: row.decode("state")) ?? .revoked
        endReason = try row.decode("end_reason")
        endedBy = try row.decode("ended_by")
        endedAt = try row.decode("ended_at", as: Date?.self)
        createdAt = try row.decode("created_at") as Date
        lastSeenAt = try row.decode("last_seen_at") as Date
        idleTimeout = try row.decode("idle_timeout")
        absoluteExpiresAt = try row.decode("absolute_expires_at") as Date
        ip = try row.decode("ip")
        userAgent = try row.decode("user_agent")
        refreshFamily = try row.decode("refresh_family")
    }

    init(id: Int64, handle: String, userId: Int64, kind: Kind, state: State, endReason: String?, endedBy: String?,
         endedAt: Date?, createdAt: Date, lastSeenAt: Date, idleTimeout: TimeInterval, absoluteExpiresAt: Date,
         ip: String?, userAgent: String?, refreshFamily: String?) {
        self.id = id
        self.handle = handle
        self.userId = userId
        self.kind = kind
        self.state = state
        self.endReason = endReason
        self.endedBy = endedBy
        self.endedAt = endedAt
        self.createdAt = createdAt
        self.lastSeenAt = lastSeenAt
        self.idleTimeout = idleTimeout
        self.absoluteExpiresAt = absoluteExpiresAt
        self.ip = ip
        self.userAgent = userAgent
        self.refreshFamily = refreshFamily
    }

    public var idleExpiresAt: Date { lastSeenAt.addingTimeInterval(idleTimeout) }

    /// The moment it will expire if nothing happens: the earlier of the two deadlines.
    public var expiresAt: Date { min(idleExpiresAt, absoluteExpiresAt) }

    /// Why an active session is no longer valid at `now`, or nil while it is.
    public func expiry(at now: Date) -> CredentialFailure? {
        if now >= absoluteExpiresAt { return .expiredAbsolute }
        if now >= idleExpiresAt { return .expiredIdle }
        return nil
    }

    /// The state as of `now`: sessions past a deadline are expired even before a sweep or a
    /// lookup has written that down.
    public func effectiveState(at now: Date) -> State {
        state == .active && expiry(at: now) != nil ? .expired : state
    }

    static func find(handle: String, in tx: any SQLTransaction) throws -> Session? {
        try tx.fetchOne(Session.self, "SELECT * FROM sessions WHERE handle = ?", [handle])
    }
}

/// A session row joined with what listings show next to it.
public struct SessionSummary: Sendable, Equatable, SQLRecord {
    public var session: Session
    public var email: String
    /// Refresh tokens issued in this session's family.
    public var familySize: Int

    public init(row: SQLRow) throws {
        session = try Session(row: row)
        email = try row.decode("email")
        familySize = try row.decode("family_size", as: Int?.self) ?? 0
    }

    public init(session: Session, email: String, familySize: Int) {
        self.session = session
        self.email = email
        self.familySize = familySize
    }
}
