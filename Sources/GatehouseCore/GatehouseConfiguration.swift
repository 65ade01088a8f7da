import Foundation

/// Every lifetime, grace window and policy the services use, with the defaults the issues name.
public struct GatehouseConfiguration: Sendable, Equatable {
    /// How long a magic link can be used.
    public var magicLinkTTL: TimeInterval = 15 * 60
    /// Where the sign-in link points, the mail's text, and whether it is sent.
    public var mail = MailSettings()

    /// A session ends when unused this long…
    public var sessionIdleTimeout: TimeInterval = 7 * 86400
    /// …and at the latest this long after it began, used or not.
    public var sessionAbsoluteLifetime: TimeInterval = 30 * 86400
    /// After `regenerate`, the previous secret keeps working this long.
    public var sessionRotationGrace: TimeInterval = 30
    /// `last_seen_at` is written at most this often per session, so that reads stay reads.
    public var sessionTouchInterval: TimeInterval = 30

    public var accessTokenTTL: TimeInterval = 15 * 60
    public var accessTokenIssuer = "gatehouse"
    public var refreshTokenTTL: TimeInterval = 30 * 86400
    /// A rotated refresh token presented again within this window is a benign race (two tabs,
    /// a retried request), answered with the same successor; later it is reuse.
    /// (Auth0 calls it the reuse interval, Okta the grace period for token rotation, capped at
    /// 60 s as `refreshReuseGraceRange` is here: longer, and a stolen token's replay passes as a race.)
    public var refreshReuseGrace: TimeInterval = 10
    public static let refreshReuseGraceRange: ClosedRange<TimeInterval> = 0...60

    public var rateLimits = RateLimitPolicies()

    /// Where private signing keys live when not in the database (nil: in the database).
    public var signingKeyFile: SigningKeyFile?

    public init() {}
}
