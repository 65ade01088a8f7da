import Foundation
import GatehouseCore
import TerminalKit

/// The audit log, newest first and live: who did what to which target, and how it ended.
enum AuditPane {
    static let columns = [
        TableColumn("SEQ", min: 5, max: 10, alignRight: true),
        TableColumn("TIME", min: 19, max: 19),
        TableColumn("ACTOR", min: 8, max: 28, flex: 1),
        TableColumn("ACTION", min: 14, max: 26),
        TableColumn("TARGET", min: 12, max: 40, flex: 2),
        TableColumn("OUTCOME", min: 7, max: 7),
        TableColumn("REASON", min: 6, max: 24, flex: 1),
        TableColumn("IP", min: 15, max: 39, flex: 1),
    ]

    static func cells(_ event: AuditEvent) -> [String] {
        [String(event.seq), String(TimeText.timestamp(event.at).prefix(19)).replacingOccurrences(of: "T", with: " "),
         actor(event), event.action, target(event), event.outcome, event.reason ?? "", event.ip ?? ""]
    }

    static func actor(_ event: AuditEvent) -> String { event.actorType + (event.actorId.map { ":\($0)" } ?? "") }

    static func target(_ event: AuditEvent) -> String {
        guard let type = event.targetType else { return "" }
        return type + (event.targetId.map { ":\($0)" } ?? "")
    }

    /// "chain ✓ verified to #N", "verifying… #N", or "chain BROKEN at #N", then the newest
    /// signed checkpoint and its age ("signed #M 12m ago"), or that there is none.
    static func chainStatus(_ checkpoint: AuditCheckpoint?, now: Date = Date()) -> (text: String, broken: Bool)? {
        guard let checkpoint else { return ("chain: verifying…", false) }
        if let broken = checkpoint.firstBrokenSeq {
            return ("chain BROKEN at #\(broken): \(checkpoint.problem ?? "")", true)
        }
        let chain = checkpoint.complete ? "chain ✓ verified to #\(checkpoint.seq)" : "chain: verifying… #\(checkpoint.seq)"
        let signed = checkpoint.newestSigned.map { "signed #\($0.seq) \(TimeText.since($0.at, now: now))" } ?? "no signed checkpoint"
        return (chain + " · " + signed, false)
    }
}

/// The detail view behind `enter` on an event: every field, the details JSON pretty-printed.
enum AuditDetail {
    static func view(_ event: AuditEvent) -> TextView {
        var lines: [StyledLine] = []
        func field(_ label: String, _ value: String?) { lines.append(StyledLine(DisplayWidth.fit(label, to: 14) + (value ?? "—"))) }
        field("time", TimeText.timestamp(event.at))
        field("actor", AuditPane.actor(event))
        field("action", event.action)
        field("target", AuditPane.target(event))
        field("outcome", event.outcome)
        field("reason", event.reason)
        field("ip", event.ip)
        field("user agent", event.userAgent)
        field("request id", event.requestId)
        field("hash", Fingerprint.hex(event.hash))
        field("previous", Fingerprint.hex(event.prevHash))
        lines.append(StyledLine(""))
        lines.append(StyledLine("DETAILS", style: Style(attributes: [.bold])))
        for line in prettyJSON(event.details).split(separator: "\n", omittingEmptySubsequences: false) {
            lines.append(StyledLine("  " + line))
        }
        return TextView(title: "Audit event #\(event.seq)", lines: lines)
    }

    /// The event as one line of JSON with sorted keys, the details as an object (what `y` copies).
    static func json(_ event: AuditEvent) -> String {
        var object: [String: Any] = [
            "seq": event.seq, "at": TimeText.timestamp(event.at), "actor_type": event.actorType, "action": event.action,
            "outcome": event.outcome, "hash": Fingerprint.hex(event.hash),
        ]
        let optional: [(String, String?)] = [("actor_id", event.actorId), ("target_type", event.targetType), ("target_id", event.targetId),
                                             ("reason", event.reason), ("ip", event.ip), ("user_agent", event.userAgent),
                                             ("request_id", event.requestId)]
        for (key, value) in optional { object[key] = value ?? NSNull() }
        object["details"] = event.details.flatMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) } ?? event.details ?? NSNull()
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data()
        return String(decoding: data, as: UTF8.self)
    }

    /// Details with sorted keys and indentation; text that is not JSON is shown as it is.
    static func prettyJSON(_ details: String?) -> String {
        guard let details else { return "none" }
        guard let object = try? JSONSerialization.jsonObject(with: Data(details.utf8)),
              let data = try? JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
        else { return details }
        return String(decoding: data, as: UTF8.self)
    }
}
