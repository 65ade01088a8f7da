import Crypto
import Foundation

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
/// write lock: the first applies the effect, the rest find the row and change nothing. On
/// PostgreSQL the ledger's primary key decides: the insert is `ON CONFLICT DO NOTHING`, and the
/// effect is applied only when the row was inserted.
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
        return try await database.write { tx in
            if let duplicate = try Self.recordDuplicate(of: event.id, in: tx, at: now) { return duplicate }
            var result = PaymentWebhookResult(eventId: event.id, type: event.type, outcome: .recorded, duplicate: false)
            var user: User? = nil
            if event.type == "checkout.session.completed" {
                (result, user) = try Self.checkoutEffect(event, result: result, in: tx)
            } else {
                result.note = "event type not acted on"
            }
            // The ledger's key decides (PostgreSQL): a concurrent delivery of the same event waits here
            // for the first's commit, inserts nothing, and is answered as a duplicate with no effect.
            let inserted = try tx.fetchOne("""
                INSERT INTO payment_events (event_id, type, received_at, last_delivery_at, payload_sha256, outcome,
                                            user_id, amount, currency, note)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT (event_id) DO NOTHING RETURNING event_id
                """, [event.id, event.type, now.unixSeconds, now.unixSeconds, payloadHash, result.outcome.rawValue,
                      user?.id, result.amount, result.currency, result.note])
            guard inserted != nil else {
                guard let duplicate = try Self.recordDuplicate(of: event.id, in: tx, at: now) else {
                    throw AuthError.notFound("payment event \(event.id)")
                }
                return duplicate
            }
            if let user, result.outcome == .credited, let amount = result.amount {
                try tx.execute("UPDATE users SET credits = credits + ? WHERE id = ?", [amount, user.id])
            }
            var details = ["event": event.id, "type": event.type]
            if let amount = result.amount { details["amount"] = String(amount) }
            if let currency = result.currency { details["currency"] = currency }
            if let note = result.note { details["note"] = note }
            try AuditLog.append(AuditEntry(
                actor: .system, action: "payment.\(result.outcome.rawValue)", targetType: "user", targetId: result.userEmail,
                outcome: result.outcome == .unmatched ? .failure : .success, context: context, details: details),
                in: tx, at: now)
            return result
        }
    }

    /// Counts one more delivery of an event already in the ledger and returns what it did the
    /// first time; nil when the event is not in the ledger.
    private static func recordDuplicate(of eventId: String, in tx: any SQLTransaction, at now: Date) throws -> PaymentWebhookResult? {
        let bumped = try tx.execute("UPDATE payment_events SET deliveries = deliveries + 1, last_delivery_at = ? WHERE event_id = ?",
                                    [now.unixSeconds, eventId])
        guard bumped == 1, let existing = try tx.fetchOne("""
            SELECT p.type, p.outcome, p.amount, p.currency, p.note, u.email
            FROM payment_events p LEFT JOIN users u ON u.id = p.user_id WHERE p.event_id = ?
            """, [eventId]) else { return nil }
        return try PaymentWebhookResult(
            eventId: eventId, type: existing.decode("type"),
            outcome: PaymentWebhookResult.Outcome(rawValue: existing.decode("outcome", as: String.self)) ?? .recorded, duplicate: true,
            userEmail: existing.decode("email"), amount: existing.decode("amount"), currency: existing.decode("currency"),
            note: existing.decode("note"))
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
                                       in tx: any SQLTransaction) throws -> (PaymentWebhookResult, User?) {
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
        guard let user = try User.find(email: email, in: tx) else {
            result.outcome = .unmatched
            result.note = "no user \(email)"
            return (result, nil)
        }
        result.outcome = .credited
        return (result, user)
    }

    /// The ledger row of one event, for operators and tests.
    public func event(id: String) async throws -> PaymentWebhookResult? {
        try await database.read { tx in
            try tx.fetchOne("""
                SELECT p.*, u.email FROM payment_events p LEFT JOIN users u ON u.id = p.user_id WHERE p.event_id = ?
                """, [id]).map { row in
                try PaymentWebhookResult(eventId: row.decode("event_id"), type: row.decode("type"),
                                         outcome: PaymentWebhookResult.Outcome(rawValue: row.decode("outcome", as: String.self)) ?? .recorded,
                                         duplicate: row.decode("deliveries", as: Int.self) > 1, userEmail: row.decode("email"),
                                         amount: row.decode("amount"), currency: row.decode("currency"), note: row.decode("note"))
            }
        }
    }

    /// How many times an event was delivered (1 for a single delivery).
    public func deliveries(eventId: String) async throws -> Int {
        try await database.read { tx in
            try tx.fetchScalar(Int.self, "SELECT deliveries FROM payment_events WHERE event_id = ?", [eventId]) ?? 0
        }
    }
}
