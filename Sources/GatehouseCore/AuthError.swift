import Foundation

/// Why a presented credential (magic link, session secret, refresh or access token) was refused.
/// The raw values are what the audit log records and what forensics reads back.
public enum CredentialFailure: String, Sendable, Equatable, Codable {
    /// Not shaped like anything Gatehouse issues.
    case malformed
    /// Well-formed but never issued here (or issued by another app using the same cookie name).
    case unknown
    /// A magic link past its TTL, or a refresh/access token past its lifetime.
    case expired
    /// A magic link that was already used once.
    case alreadyUsed = "already_used"
    /// A session secret replaced by `regenerate`, presented after the grace period.
    case rotated
    case expiredIdle = "expired_idle"
    case expiredAbsolute = "expired_absolute"
    case revoked
    case loggedOut = "logged_out"
    /// A refresh token presented again after it was rotated, outside the grace window.
    case reused

    /// What a cookie Gatehouse never issued fails with: another app's cookie of the same name on
    /// a shared domain (a "foreign" cookie), or a forgery. Forensics and the Pulse keep these
    /// apart from the failures of Gatehouse's own sessions.
    public static let foreignCookie: [CredentialFailure] = [.unknown, .malformed]
}

/// What the auth services throw. Each case is something a client or operator can act on.
public enum AuthError: Error, Equatable, CustomStringConvertible {
    case invalidEmail(String)
    case rateLimited(RateLimitDecision)
    case invalidCredential(CredentialFailure)
    case notFound(String)

    public var description: String {
        switch self {
        case .invalidEmail(let why): "invalid email address: \(why)"
        case .rateLimited(let decision):
            "rate limit '\(decision.policy.name)' (\(decision.policy.rateDescription)) exceeded; retry in \(Int(decision.retryAfter.rounded(.up))) s"
        case .invalidCredential(let failure): "credential refused: \(failure.rawValue)"
        case .notFound(let what): "\(what) not found"
        }
    }
}
