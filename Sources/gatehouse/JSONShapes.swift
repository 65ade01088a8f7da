import Foundation
import GatehouseCore

// The `--json` documents. Field names are part of the CLI's contract: add fields, never rename.

struct SessionJSON: Encodable {
    var handle: String
    var user: String
    var kind: String
    var state: String
    var end_reason: String?
    var ended_by: String?
    var ended_at: Date?
    var created_at: Date
    var last_seen_at: Date
    var idle_expires_at: Date
    var absolute_expires_at: Date
    var ip: String?
    var user_agent: String?
    var refresh_family: String?
    var refresh_tokens: Int

    init(_ summary: SessionSummary, now: Date) {
        let s = summary.session
        handle = s.handle
        user = summary.email
        kind = s.kind.rawValue
        state = s.effectiveState(at: now).rawValue
        end_reason = s.endReason ?? (s.state == .active ? s.expiry(at: now)?.rawValue : nil)
        ended_by = s.endedBy
        ended_at = s.endedAt
        created_at = s.createdAt
        last_seen_at = s.lastSeenAt
        idle_expires_at = s.idleExpiresAt
        absolute_expires_at = s.absoluteExpiresAt
        ip = s.ip
        user_agent = s.userAgent
        refresh_family = s.refreshFamily
        refresh_tokens = summary.familySize
    }
}

struct TokenJSON: Encodable {
    var fingerprint: String
    var family: String
    var session: String
    var user: String
    var state: String
    var parent: String?
    var issued_at: Date
    var expires_at: Date
    var used_at: Date?
    var revoked_at: Date?
    var revoked_reason: String?

    init(_ summary: RefreshTokenSummary) {
        let t = summary.token
        fingerprint = t.fingerprint
        family = t.family
        session = summary.sessionHandle
        user = summary.email
        state = t.state.rawValue
        parent = summary.parentFingerprint
        issued_at = t.issuedAt
        expires_at = t.expiresAt
        used_at = t.usedAt
        revoked_at = t.revokedAt
        revoked_reason = t.revokedReason
    }
}

struct AuditEventJSON: Encodable {
    var seq: Int64
    var at: Date
    var actor_type: String
    var actor_id: String?
    var action: String
    var target_type: String?
    var target_id: String?
    var outcome: String
    var reason: String?
    var ip: String?
    var user_agent: String?
    var request_id: String?
    var details: [String: String]?
    var hash: String

    init(_ event: AuditEvent) {
        seq = event.seq
        at = event.at
        actor_type = event.actorType
        actor_id = event.actorId
        action = event.action
        target_type = event.targetType
        target_id = event.targetId
        outcome = event.outcome
        reason = event.reason
        ip = event.ip
        user_agent = event.userAgent
        request_id = event.requestId
        details = event.details.flatMap { try? JSONDecoder().decode([String: String].self, from: Data($0.utf8)) }
        hash = Fingerprint.hex(event.hash)
    }
}

struct BucketJSON: Encodable {
    var key: String
    var policy: String
    var rate: String
    var remaining: Int
    var allowed_total: Int64
    var blocked_total: Int64
    var last_blocked_at: Date?
    var full_at: Date
    var updated_at: Date

    init(_ bucket: RateLimitBucket, now: Date) {
        key = bucket.key
        policy = bucket.policy
        rate = RateLimitPolicy(name: bucket.policy, limit: bucket.limit, period: bucket.period).rateDescription
        remaining = bucket.remaining(at: now)
        allowed_total = bucket.allowedTotal
        blocked_total = bucket.blockedTotal
        last_blocked_at = bucket.lastBlockedAt
        full_at = max(bucket.tat, now)
        updated_at = bucket.updatedAt
    }
}

struct SessionDetailJSON: Encodable {
    var session: SessionJSON
    var refreshTokens: [TokenJSON]
    var audit: [AuditEventJSON]

    enum CodingKeys: String, CodingKey {
        case session, audit
        case refreshTokens = "refresh_tokens"
    }
}

struct JobJSON: Encodable {
    var id: Int64
    var kind: String
    var arguments: [String: String]
    var state: String
    var progress: Int
    var progress_note: String?
    var priority: Int
    var attempts: Int
    var max_attempts: Int
    var cancel_requested: Bool
    var lease_owner: String?
    var heartbeat_at: Date?
    var last_error: String?
    var requested_by: String
    var created_at: Date
    var run_at: Date
    var started_at: Date?
    var finished_at: Date?
    var outputs: [JobOutput]?

    init(_ job: Job, outputs: [JobOutput]?) {
        id = job.id
        kind = job.kind
        arguments = job.arguments
        state = job.state.rawValue
        progress = job.progress
        progress_note = job.progressNote
        priority = job.priority
        attempts = job.attempts
        max_attempts = job.maxAttempts
        cancel_requested = job.cancelRequested
        lease_owner = job.leaseOwner
        heartbeat_at = job.heartbeatAt
        last_error = job.lastError
        requested_by = job.requestedBy
        created_at = job.createdAt
        run_at = job.runAt
        started_at = job.startedAt
        finished_at = job.finishedAt
        self.outputs = outputs
    }
}

struct InitJSON: Encodable {
    var path: String
    var created: Bool
    var signing_key: String
    var journal_mode: String
    var synchronous: String
    var email_conflicts: [EmailConflictJSON]
}

struct EmailConflictJSON: Encodable {
    var user_id: Int64
    var stored_email: String
    var normalized_email: String?
    var problem: String?
    var kept_user_id: Int64?
    var active_session_count: Int
    var active_sessions: [String]
    var credits: Int64

    init(_ conflict: EmailConflict) {
        user_id = conflict.userId
        stored_email = conflict.storedEmail
        normalized_email = conflict.normalizedEmail
        problem = conflict.problem
        kept_user_id = conflict.keptUserId
        active_session_count = conflict.activeSessionCount
        active_sessions = conflict.activeSessions
        credits = conflict.credits
    }
}

/// `sessions revoke --issued-before --json`.
struct RevokedBeforeJSON: Encodable {
    var issuedBefore: String
    /// The user whose sessions were revoked; nil for `--all`.
    var user: String?
    var revoked: Int

    enum CodingKeys: String, CodingKey {
        case user, revoked
        case issuedBefore = "issued_before"
    }
}
