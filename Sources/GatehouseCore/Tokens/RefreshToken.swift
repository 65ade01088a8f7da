import Foundation

/// One refresh token of a session's family, as stored (the secret itself never is).
public struct RefreshToken: Sendable, Equatable, Codable {
    public enum State: String, Sendable, Codable, CaseIterable {
        /// The family's current token: the one the client should present next.
        case active
        /// Rotated: exchanged for its successor.
        case used
        /// Cut off by an operator, a logout or reuse detection.
        case revoked
        /// Presented again after rotation, outside the grace window: the evidence of reuse.
        case reused
    }

    public var id: Int64
    public var tokenHash: Data
    public var family: String
    public var sessionId: Int64
    public var parentId: Int64?
    public var state: State
    public var issuedAt: Date
    public var expiresAt: Date
    public var usedAt: Date?
    public var revokedAt: Date?
    public var revokedReason: String?

    enum CodingKeys: String, CodingKey {
        case id, family, state
        case tokenHash = "token_hash", sessionId = "session_id", parentId = "parent_id"
        case issuedAt = "issued_at", expiresAt = "expires_at", usedAt = "used_at"
        case revokedAt = "revoked_at", revokedReason = "revoked_reason"
    }

    /// What screens show in place of the token.
    public var fingerprint: String { Fingerprint.of(tokenHash) }
}

extension RefreshToken.State: SQLValueConvertible, SQLValueDecodable {}

extension RefreshToken: SQLRecord {
    /// Times are stored as unix seconds (`REAL` / `double precision`).
    public init(row: SQLRow) throws {
        id = try row.decode("id")
        tokenHash = try row.decode("token_hash")
        family = try row.decode("family")
        sessionId = try row.decode("session_id")
        parentId = try row.decode("parent_id")
        state = try row.decode("state")
        issuedAt = try row.decode("issued_at")
        expiresAt = try row.decode("expires_at")
        usedAt = try row.decode("used_at")
        revokedAt = try row.decode("revoked_at")
        revokedReason = try row.decode("revoked_reason")
    }
}

/// A refresh token with what listings show beside it.
public struct RefreshTokenSummary: Sendable, Equatable, SQLRecord {
    public var token: RefreshToken
    public var sessionHandle: String
    public var email: String
    /// The parent's fingerprint: the lineage, without a second query.
    public var parentFingerprint: String?

    public init(row: SQLRow) throws {
        token = try RefreshToken(row: row)
        sessionHandle = try row.decode("session_handle")
        email = try row.decode("email")
        parentFingerprint = try row.decode("parent_hash", as: Data?.self).map(Fingerprint.of)
    }
}

/// How a reuse of a rotated refresh token is classified in the audit log.
public enum RefreshReuseClass: String, Sendable, Codable {
    /// Inside the grace window: two requests raced (parallel tabs, a retried request). Benign.
    case concurrent
    /// Shortly after the grace window: most likely a client that retried with a stale token.
    case lateRetry = "late_retry"
    /// Long after rotation: most likely a copied token used by someone else.
    case replay

    static let lateRetryWindow: TimeInterval = 300

    static func classify(elapsed: TimeInterval, grace: TimeInterval) -> RefreshReuseClass {
        if elapsed <= grace { return .concurrent }
        return elapsed <= grace + lateRetryWindow ? .lateRetry : .replay
    }
}

/// What a successful login or refresh hands to an API client.
public struct TokenPair: Sendable, Equatable {
    public var accessToken: String
    public var refreshToken: SecretToken
    /// Seconds until the access token expires.
    public var expiresIn: Int
    public var sessionHandle: String
    /// The refresh bucket after this request, for the API's `RateLimit` headers (nil at login).
    public var rateLimit: RateLimitDecision?
    public var tokenType: String { "bearer" }

    public init(accessToken: String, refreshToken: SecretToken, expiresIn: Int, sessionHandle: String,
                rateLimit: RateLimitDecision? = nil) {
        self.accessToken = accessToken
        self.refreshToken = refreshToken
        self.expiresIn = expiresIn
        self.sessionHandle = sessionHandle
        self.rateLimit = rateLimit
    }
}
