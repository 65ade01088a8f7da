import Foundation

/// Why a session stopped working for its user, as `gatehouse explain` and the console's "Why?"
/// view name it.
public enum LogoutCause: String, Sendable, Codable, CaseIterable {
    /// The browser presented a cookie that was replaced at a regeneration, after its grace period.
    case rotatedCookieAfterGrace = "rotated_cookie_after_grace"
    case idleExpiry = "idle_expiry"
    case absoluteExpiry = "absolute_expiry"
    case revokedByOperator = "revoked_by_operator"
    /// A refresh token came back after rotation: reuse detection revoked the family and session.
    case refreshTokenReuse = "refresh_token_reuse"
    case loggedOutByUser = "logged_out_by_user"
    /// The client sent, under our cookie name, a value this server never issued.
    case foreignCookie = "foreign_cookie"
    /// A refresh was refused with 429 and none succeeded after it.
    case rateLimitedRefresh = "rate_limited_refresh"
    /// Revoked by the system for another reason.
    case revoked
    /// Nothing ended it: the session is active.
    case notLoggedOut = "not_logged_out"
    /// The credential asked about was never issued by this server.
    case neverIssued = "never_issued"
    /// The user asked about has never had a session (their sign-in links say why).
    case neverSignedIn = "never_signed_in"
}

/// The cause of one logout, in one line, with the audit rows that prove it.
public struct Verdict: Sendable, Equatable, Codable {
    public var cause: LogoutCause
    /// When the user was logged out (or, for an active session, nil).
    public var at: Date?
    public var summary: String
    /// What to do or check next, when there is something.
    public var hint: String?
    /// Sequence numbers of the audit rows that are the evidence.
    public var evidence: [Int64]
}

/// One line of a session's history: an audit row, or a moment derived from the session's own
/// timestamps (an expiry nobody observed has no row).
public struct TimelineEntry: Sendable, Equatable, Codable {
    public var at: Date
    /// The audit row, when the entry is one.
    public var seq: Int64?
    public var action: String
    public var text: String
    public var isEvidence: Bool

    enum CodingKeys: String, CodingKey {
        case at, seq, action, text
        case isEvidence = "is_evidence"
    }
}

/// A session's story: what it is, what happened to it, and why it ended.
public struct SessionStory: Sendable, Equatable, Codable {
    public var handle: String
    public var email: String
    public var kind: Session.Kind
    public var state: Session.State
    public var createdAt: Date
    public var lastSeenAt: Date
    public var verdict: Verdict
    public var timeline: [TimelineEntry]

    enum CodingKeys: String, CodingKey {
        case handle, email, kind, state, verdict, timeline
        case createdAt = "created_at"
        case lastSeenAt = "last_seen_at"
    }
}

/// The answer to "why was this user logged out?".
public struct Explanation: Sendable, Equatable, Codable {
    /// What was asked about, without secrets (a credential appears as its fingerprint).
    public var subject: String
    /// The headline: the verdict of the most recent logout among the stories, or of the credential.
    public var verdict: Verdict
    public var sessions: [SessionStory]
    /// Failed lookups of the credential asked about that belong to no session (never issued).
    public var strayLookups: [TimelineEntry]
    /// For a user: their newest sign-in requests and what became of each (mail delivery, use).
    public var signInLinks: [LinkStory] = []

    enum CodingKeys: String, CodingKey {
        case subject, verdict, sessions
        case strayLookups = "stray_lookups"
        case signInLinks = "sign_in_links"
    }
}
