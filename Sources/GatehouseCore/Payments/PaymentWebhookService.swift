import Crypto
import Foundation
import GRDB

/// What a webhook delivery did.
public struct PaymentWebhookResult: Sendable, Equatable {
    public enum Outcome: String, Sendable, Codable {
        /// A completed checkout whose amount was added to the user's credits.
        case credited
        /// Acknowledged and kept in the ledger; no effect (another event type, or unpaid).
        case recorded
        /// A completed checkout naming no user Gatehouse knows: kept for an operator to resolve.
        case unmatched
    }

    public var eventId: String
    public var type: String
    public var outcome: Outcome
    /// True when the event was already in the ledger: this delivery changed nothing.
    public var duplicate: Bool
    public var userEmail: String?
    public var amount: Int64?
    public var currency: String?
    /// Why an event had no effect, when it had none.
    public var note: String?
}

public enum PaymentWebhookError: Error, Equatable, CustomStringConvertible {
    case invalidPayload(String)

    public var description: String {
        switch self {
        case .invalidPayload(let why): "invalid webhook payload: \(why)"
        }
    }
}

/// Idempotent processing of Stripe-shaped payment events.
///
/// The ledger row and the effect commit in one `BEGIN IMMEDIATE` transaction keyed by the event
/// id, so concurrent duplicate deliveries (from one process or several) serialize on SQLite's
/// write lock: the first applies the effect, the rest find the row and change nothing.
public final class PaymentWebhookService: Sendable {
    let database: GatehouseDatabase
    let clock: any GatehouseClock

    init(database: GatehouseDatabase, clock: any GatehouseClock) {
        self.database = database
        self.clock = clock
    }

    /// The fields Gatehouse reads; everything else in the event is ignored but hashed.
    private struct Envelope: Decodable {
        struct DataField: Decodable { var object: CheckoutSession? }
        struct CheckoutSession: Decodable {
            var amount_total: Int64?
            var currency: String?
            var payment_status: String?
            var metadata: [String: String]?
        }
        var id: String
        var type: String
        var data: DataField?
    }

    /// Records `payload` (already authenticated by its signature) and applies its effect once.
    public func receive(payload: Data, context: ClientContext = .none) async throws -> PaymentWebhookResult {
        let event = try Self.decode(payload)
        let payloadHash = Data(SHA256.hash(data: payload))
        let now = clock.now()
        return try await database.write { db in
            if let existing = try Row.fetchOne(db, sql: """
                SELECT p.type, p.outcome, p.amount, p.currency, p.note, u.email
                FROM payment_events p LEFT JOIN users u ON u.id = p.user_id WHERE p.event_id = ?
                """, arguments: [event.id]) {
                try db.execute(sql: "UPDATE payment_events SET deliveries = deliveries + 1, last_delivery_at = ? WHERE event_id = ?",
                               arguments: [now.unixSeconds, event.id])
                return PaymentWebhookResult(
                    eventId: event.id, type: existing["type"],
                    outcome: PaymentWebhookResult.Outcome(rawValue: existing["outcome"]) ?? .recorded, duplicate: true,
                    userEmail: existing["email"], amount: existing["amount"], currency: existing["currency"], note: existing["note"])
            }
            var result = PaymentWebhookResult(eventId: event.id, type: event.type, outcome: .recorded, duplicate: false)
            var user: User? = nil
            if event.type == "checkout.session.completed" {
                (result, user) = try Self.checkoutEffect(event, result: result, in: db)
            } else {
                result.note = "event type not acted on"
            }
            try db.execute(sql: """
                INSERT INTO payment_events (event_id, type, received_at, last_delivery_at, payload_sha256, outcome,
                                            user_id, amount, currency, note)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """, arguments: [event.id, event.type, now.unixSeconds, now.unixSeconds, payloadHash, result.outcome.rawValue,
                                 user?.id, result.amount, result.currency, result.note])
            if let user, result.outcome == .credited, let amount = result.amount {
                try db.execute(sql: "UPDATE users SET credits = credits + ? WHERE id = ?", arguments: [amount, user.id])
            }
            var details = ["event": event.id, "type": event.type]
            if let amount = result.amount { details["amount"] = String(amount) }
            if let currency = result.currency { details["currency"] = currency }
            if let note = result.note { details["note"] = note }
            try AuditLog.append(AuditEntry(
                actor: .system, action: "payment.\(result.outcome.rawValue)", targetType: "user", targetId: result.userEmail,
                outcome: result.outcome == .unmatched ? .failure : .success, context: context, details: details),
                in: db, at: now)
            return result
        }
    }

    private static func decode(_ payload: Data) throws -> Envelope {
        let event: Envelope
        do {
            event = try JSONDecoder().decode(Envelope.self, from: payload)
        } catch let error as DecodingError {
            throw PaymentWebhookError.invalidPayload(DecodingErrorText.describe(error))
        }
        guard !event.id.isEmpty, event.id.utf8.count <= 255 else { throw PaymentWebhookError.invalidPayload("id must be 1–255 characters") }
        guard !event.type.isEmpty, event.type.utf8.count <= 255 else { throw PaymentWebhookError.invalidPayload("type must be 1–255 characters") }
        return event
    }

    /// A completed checkout credits `amount_total` to the user named in its metadata, once paid.
    private static func checkoutEffect(_ event: Envelope, result: PaymentWebhookResult,
                                       in db: Database) throws -> (PaymentWebhookResult, User?) {
        var result = result
        guard let object = event.data?.object, let amount = object.amount_total else {
            throw PaymentWebhookError.invalidPayload("checkout.session.completed needs data.object.amount_total")
        }
        guard amount >= 0 else { throw PaymentWebhookError.invalidPayload("amount_total must not be negative") }
        result.amount = amount
        result.currency = object.currency?.lowercased()
        if let status = object.payment_status, status != "paid", status != "no_payment_required" {
            result.note = "payment_status is '\(status)'; credited when paid"
            return (result, nil)
        }
        guard let named = object.metadata?["gatehouse_user"], let email = try? EmailAddress.normalize(named) else {
            result.outcome = .unmatched
            result.note = "metadata.gatehouse_user is missing or not an email address"
            return (result, nil)
        }
        result.userEmail = email
        guard let user = try User.find(email: email, in: db) else {
            result.outcome = .unmatched
            result.note = "no user \(email)"
            return (result, nil)
        }
        result.outcome = .credited
        return (result, user)
    }

    /// The ledger row of one event, for operators and tests.
    public func event(id: String) async throws -> PaymentWebhookResult? {
        try await database.read { db in
            try Row.fetchOne(db, sql: """
                SELECT p.*, u.email FROM payment_events p LEFT JOIN users u ON u.id = p.user_id WHERE p.event_id = ?
                """, arguments: [id]).map { row in
                PaymentWebhookResult(eventId: row["event_id"], type: row["type"],
                                     outcome: PaymentWebhookResult.Outcome(rawValue: row["outcome"]) ?? .recorded,
                                     duplicate: (row["deliveries"] as Int) > 1, userEmail: row["email"],
                                     amount: row["amount"], currency: row["currency"], note: row["note"])
            }
        }
    }

    /// How many times an event was delivered (1 for a single delivery).
    public func deliveries(eventId: String) async throws -> Int {
        try await database.read { db in
            try Int.fetchOne(db, sql: "SELECT deliveries FROM payment_events WHERE event_id = ?", arguments: [eventId]) ?? 0
        }
    }
}
