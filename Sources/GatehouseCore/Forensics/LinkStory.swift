import Foundation

/// One sign-in request of a user and what became of it: "I never got the email" answered from
/// the magic link, its mail's delivery and the audit log.
public struct LinkStory: Sendable, Equatable, Codable {
    public enum Outcome: String, Sendable, Codable {
        /// Exchanged for a session.
        case used
        /// Its lifetime ended before anyone used it.
        case expiredUnused = "expired_unused"
        /// Still usable.
        case usable
        /// The request was refused with 429: no link was made.
        case rateLimited = "rate_limited"
    }

    /// When it was requested.
    public var at: Date
    /// The link's fingerprint (nil for a refused request).
    public var link: String?
    public var ip: String?
    public var outcome: Outcome
    public var usedAt: Date?
    public var expiresAt: Date?
    /// The mail's delivery (nil for a refused request).
    public var delivery: OutboxMessage.Delivery?
    public var attempts: Int
    /// The mail program's (the relay's) last answer.
    public var deliveryNote: String?
    public var deliveryAt: Date?
    /// The audit row of a refused request.
    public var seq: Int64?

    enum CodingKeys: String, CodingKey {
        case at, link, ip, outcome, delivery, attempts, seq
        case usedAt = "used_at"
        case expiresAt = "expires_at"
        case deliveryNote = "delivery_note"
        case deliveryAt = "delivery_at"
    }

    static let limit = 10

    /// The user's newest sign-in requests, made or refused, newest first (at most `limit`).
    /// `userId` nil: an address with no user yet (every request of it refused).
    static func recent(userId: Int64?, email: String, now: Date, in tx: any SQLTransaction) throws -> [LinkStory] {
        let links: [LinkStory] = try userId.map { userId in try tx.fetchAll("""
            SELECT m.token_hash, m.created_at, m.expires_at, m.consumed_at, m.ip, o.delivery, o.attempts, o.delivery_note,
                   o.delivery_updated_at
            FROM magic_links m LEFT JOIN outbox o ON o.magic_link_id = m.id
            WHERE m.user_id = ? ORDER BY m.id DESC LIMIT \(limit)
            """, [userId]).map { row in
            let consumed: Date? = try row.decode("consumed_at")
            let expires: Date = try row.decode("expires_at")
            return LinkStory(
                at: try row.decode("created_at"), link: Fingerprint.of(try row.decode("token_hash", as: Data.self)),
                ip: try row.decode("ip"), outcome: consumed != nil ? .used : now >= expires ? .expiredUnused : .usable,
                usedAt: consumed, expiresAt: expires,
                delivery: try row.decode("delivery", as: String?.self).flatMap(OutboxMessage.Delivery.init(rawValue:)),
                attempts: try row.decode("attempts", as: Int?.self) ?? 0, deliveryNote: try row.decode("delivery_note"),
                deliveryAt: try row.decode("delivery_updated_at"))
        } } ?? []
        // Through the target index: the user's own rows only.
        let refused = try tx.fetchAll(AuditEvent.self, """
            SELECT * FROM audit_events WHERE target_type = 'user' AND target_id = ? AND action = 'magic_link.rate_limited'
            ORDER BY seq DESC LIMIT \(limit)
            """, [email]).map { event in
            LinkStory(at: event.at, link: nil, ip: event.ip, outcome: .rateLimited, delivery: nil, attempts: 0,
                      deliveryNote: event.detail("policy").map { "refused with 429: limit \($0)" }, seq: event.seq)
        }
        return Array((links + refused).sorted { $0.at > $1.at }.prefix(limit))
    }

    /// One line: when, which link, what the mail did, what the link did.
    var text: String {
        let from = ip.map { " from \($0)" } ?? ""
        guard let link else { return "sign-in request\(from) refused (rate limited)\(deliveryNote.map { ": \($0)" } ?? "")" }
        let mail: String = switch delivery {
        case .stored?: "mail kept in the outbox (development: not sent)"
        case .queued?: "mail queued, not yet handed over"
        case .sent?: "mail handed over\(deliveryAt.map { " at \(Timestamp.iso8601($0))" } ?? "")"
        case .deferred?: "mail deferred after \(attempts) attempt\(attempts == 1 ? "" : "s"), retrying"
        case .failed?: "mail FAILED after \(attempts) attempt\(attempts == 1 ? "" : "s")"
        case nil: "no mail on record"
        }
        let note = deliveryNote.map { " (\($0))" } ?? ""
        let state: String = switch outcome {
        case .used: "used\(usedAt.map { " at \(Timestamp.iso8601($0))" } ?? "")"
        case .expiredUnused: "expired unused"
        case .usable: "usable until \(expiresAt.map(Timestamp.iso8601) ?? "?")"
        case .rateLimited: "refused"
        }
        return "link \(link)\(from): \(mail)\(note); \(state)"
    }

    /// The headline for a user who never got a session: what the newest request came to.
    static func verdict(_ links: [LinkStory], email: String) -> Verdict {
        guard let newest = links.first else {
            return Verdict(cause: .neverSignedIn, at: nil, summary: "\(email) never signed in and asked for no sign-in link on record",
                           hint: nil, evidence: [])
        }
        let hint: String? = switch (newest.outcome, newest.delivery) {
        case (.rateLimited, _): "Too many requests from this address or for this user: wait for the bucket (gatehouse limits list) or reset it."
        case (_, .failed?): "The relay refused or the mail could not go out: check the address and the relay's answer; `gatehouse jobs list` shows the mail job."
        case (_, .deferred?): "The relay is unreachable or answered 'try later'; the worker retries with backoff."
        case (_, .queued?): "No worker has handed it over yet: is a `gatehouse worker` (or serve with --workers > 0) running?"
        case (_, .sent?): "The relay accepted it: look in the spam folder, or at the relay's log for the recipient."
        default: nil
        }
        return Verdict(cause: .neverSignedIn, at: nil, summary: "\(email) has no session yet; newest sign-in request \(Timestamp.iso8601(newest.at)): \(newest.text)",
                       hint: hint, evidence: newest.seq.map { [$0] } ?? [])
    }
}
