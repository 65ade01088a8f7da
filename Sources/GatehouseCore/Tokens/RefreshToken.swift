import Foundation
import GRDB

/// One refresh token of a session's family, as stored (the secret itself never is).
public struct RefreshToken: Sendable, Equatable, Codable, FetchableRecord {
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

    public static let databaseDateDecodingStrategy = DatabaseDateDecodingStrategy.timeIntervalSince1970

    /// What screens show in place of the token.
    public var fingerprint: String { Fingerprint.of(tokenHash) }
}

/// A refresh token with what listings show beside it.
public struct RefreshTokenSummary: Sendable, Equatable, FetchableRecord {
    public var token: RefreshToken
    public var sessionHandle: String
    public var email: String
    /// The parent's fingerprint: the lineage, without a second query.
    public var parentFingerprint: String?

    public init(row: Row) throws {
        token = try RefreshToken(row: row)
        sessionHandle = row["session_handle"]
        email = row["email"]
        parentFingerprint = (row["parent_hash"] as Data?).map(Fingerprint.of)
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
