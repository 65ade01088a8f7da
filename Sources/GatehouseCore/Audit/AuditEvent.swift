import Crypto
import Foundation

/// One row of the audit log, as read back.
public struct AuditEvent: Sendable, Equatable, Codable, SQLRecord {
    public var seq: Int64
    public var at: Date
    public var actorType: String
    public var actorId: String?
    public var action: String
    public var targetType: String?
    public var targetId: String?
    public var outcome: String
    public var reason: String?
    public var ip: String?
    public var userAgent: String?
    public var requestId: String?
    /// A JSON object with sorted keys, or nil.
    public var details: String?
    public var prevHash: Data
    public var hash: Data

    enum CodingKeys: String, CodingKey {
        case seq, at, action, outcome, reason, ip, details, hash
        case actorType = "actor_type", actorId = "actor_id", targetType = "target_type"
        case targetId = "target_id", userAgent = "user_agent", requestId = "request_id"
        case prevHash = "prev_hash"
    }

    /// Decoded by hand: verification and reports read millions of rows.
    public init(row: SQLRow) throws {
        seq = try row.decode("seq")
        at = try row.decode("at")
        actorType = try row.decode("actor_type")
        actorId = try row.decode("actor_id")
        action = try row.decode("action")
        targetType = try row.decode("target_type")
        targetId = try row.decode("target_id")
        outcome = try row.decode("outcome")
        reason = try row.decode("reason")
        ip = try row.decode("ip")
        userAgent = try row.decode("user_agent")
        requestId = try row.decode("request_id")
        details = try row.decode("details")
        prevHash = try row.decode("prev_hash")
        hash = try row.decode("hash")
    }

    /// The canonical bytes that the hash chain covers.
    ///
    /// Each field is written as `<byte length>:<utf8>;` (nil as `-;`), in a fixed order, so no
    /// two different rows can encode alike. Time is whole milliseconds, which survives the
    /// round trip through a REAL column exactly.
    static func canonicalEncoding(seq: Int64, atMilliseconds: Int64, actorType: String, actorId: String?,
                                  action: String, targetType: String?, targetId: String?, outcome: String,
                                  reason: String?, ip: String?, userAgent: String?, requestId: String?,
                                  details: String?) -> [UInt8] {
        // Bytes appended in place (no intermediate arrays): this runs for every append and
        // for every row a verification or report reads.
        var out: [UInt8] = []
        out.reserveCapacity(320)
        func field(_ value: String?) {
            guard let value else { out.append(UInt8(ascii: "-")); out.append(UInt8(ascii: ";")); return }
            out.append(contentsOf: String(value.utf8.count).utf8)
            out.append(UInt8(ascii: ":"))
            out.append(contentsOf: value.utf8)
            out.append(UInt8(ascii: ";"))
        }
        field(String(seq))
        field(String(atMilliseconds))
        field(actorType)
        field(actorId)
        field(action)
        field(targetType)
        field(targetId)
        field(outcome)
        field(reason)
        field(ip)
        field(userAgent)
        field(requestId)
        field(details)
        return out
    }

    static func chainHash(previous: Data, canonical: [UInt8]) -> Data {
        var hasher = SHA256()
        hasher.update(data: previous)
        hasher.update(data: canonical)
        return Data(hasher.finalize())
    }

    /// The hash this row should have, recomputed from its content and `previous`.
    func expectedHash(previous: Data) -> Data {
        let canonical = Self.canonicalEncoding(
            seq: seq, atMilliseconds: Int64((at.timeIntervalSince1970 * 1000).rounded()),
            actorType: actorType, actorId: actorId, action: action, targetType: targetType,
            targetId: targetId, outcome: outcome, reason: reason, ip: ip, userAgent: userAgent,
            requestId: requestId, details: details)
        return Self.chainHash(previous: previous, canonical: canonical)
    }
}

/// What a caller asks the audit log to record.
public struct AuditEntry: Sendable {
    public enum Outcome: String, Sendable { case success, failure, denied }

    public var actor: Actor
    public var action: String
    public var targetType: String?
    public var targetId: String?
    public var outcome: Outcome
    public var reason: String?
    public var context: ClientContext
    public var details: [String: String]

    public init(actor: Actor, action: String, targetType: String? = nil, targetId: String? = nil,
                outcome: Outcome = .success, reason: String? = nil, context: ClientContext = .none,
                details: [String: String] = [:]) {
        self.actor = actor
        self.action = action
        self.targetType = targetType
        self.targetId = targetId
        self.outcome = outcome
        self.reason = reason
        self.context = context
        self.details = details
    }

    /// Details as a JSON object with sorted keys (stable bytes for the hash chain). Operator
    /// rows always name the front end and the SSH client, even when the caller did not.
    var detailsJSON: String? {
        var all = details
        if case .operator(let identity) = actor {
            all["via"] = identity.via
            if let client = identity.sshClient { all["ssh_client"] = client }
        }
        guard !all.isEmpty else { return nil }
        return CanonicalJSON.object(all)
    }

    /// The address recorded for the row: the request's, or the operator's SSH client.
    var ip: String? {
        if let ip = context.ip { return ip }
        if case .operator(let identity) = actor { return identity.sshClient }
        return nil
    }
}
