import Foundation

/// A sign-in mail as stored: what it says and how its delivery went.
///
/// While a mail waits to be handed over its body carries the usable link, so the outbox is as
/// sensitive as a mailbox: no screen or log shows the body. Once handed over (or given up on)
/// the link's token in the body is replaced by its fingerprint. In the development sink
/// (`delivery == .stored`) the body keeps the link for good: that is what `--dev` is for.
public struct OutboxMessage: Sendable, Equatable, Codable {
    public enum Delivery: String, Sendable, Codable, CaseIterable {
        /// The development sink: kept here, never sent.
        case stored
        /// Waiting for a worker to hand it to sendmail.
        case queued
        /// Handed over and accepted: from here on it is the mail system's.
        case sent
        /// A temporary failure; tried again after a backoff.
        case deferred
        /// Given up on: a permanent refusal, the link expired, or the last attempt failed.
        case failed
    }

    public var id: Int64
    public var createdAt: Date
    public var recipient: String
    public var subject: String
    public var body: String
    public var sender: String?
    public var magicLinkId: Int64?
    public var delivery: Delivery
    /// Handovers tried.
    public var attempts: Int
    /// The mail program's (the relay's) last answer, one line.
    public var deliveryNote: String?
    public var deliveryUpdatedAt: Date?

    enum CodingKeys: String, CodingKey {
        case id, recipient, subject, body, sender, delivery, attempts
        case createdAt = "created_at"
        case magicLinkId = "magic_link_id"
        case deliveryNote = "delivery_note"
        case deliveryUpdatedAt = "delivery_updated_at"
    }
}

extension OutboxMessage: SQLRecord {
    public init(row: SQLRow) throws {
        id = try row.decode("id")
        createdAt = try row.decode("created_at")
        recipient = try row.decode("recipient")
        subject = try row.decode("subject")
        body = try row.decode("body")
        sender = try row.decode("sender")
        magicLinkId = try row.decode("magic_link_id")
        delivery = try Delivery(rawValue: row.decode("delivery")) ?? .failed
        attempts = try row.decode("attempts")
        deliveryNote = try row.decode("delivery_note")
        deliveryUpdatedAt = try row.decode("delivery_updated_at")
    }
}
