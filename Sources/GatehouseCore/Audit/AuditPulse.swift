import Foundation

/// One thing the Pulse pane charts: the events of some actions (and reasons) per minute.
public struct PulseSeries: Sendable, Equatable {
    /// Which reasons of the actions count.
    public enum Reasons: Sendable, Equatable {
        case any
        case only([String])
        case except([String])

        func admits(_ reason: String) -> Bool {
            switch self {
            case .any: true
            case .only(let reasons): reasons.contains(reason)
            case .except(let reasons): !reasons.contains(reason)
            }
        }
    }

    public var label: String
    public var actions: [String]
    public var reasons: Reasons
    /// Split into one series per reason seen (the refusals "by reason").
    var splitByReason = false

    public init(label: String, actions: [String], reasons: Reasons = .any) {
        self.label = label
        self.actions = actions
        self.reasons = reasons
    }

    /// The foreign cookies a shared domain sends (another app's cookie of the same name), kept
    /// apart from the lookup failures of Gatehouse's own sessions.
    static let foreignCookieReasons = [CredentialFailure.unknown.rawValue, CredentialFailure.malformed.rawValue]

    /// What the Pulse pane charts, in order.
    public static let standard: [PulseSeries] = {
        var refused = PulseSeries(label: "refresh refused", actions: ["refresh.failed"])
        refused.splitByReason = true
        return [
            PulseSeries(label: "logins", actions: ["session.created"]),
            PulseSeries(label: "refreshes", actions: ["refresh.rotated"]),
            refused,
            PulseSeries(label: "429 rate limited", actions: ["magic_link.rate_limited", "refresh.rate_limited"]),
            PulseSeries(label: "reuse detected", actions: ["refresh.reuse_detected"]),
            PulseSeries(label: "cookie failures", actions: ["session.lookup_failed"], reasons: .except(foreignCookieReasons)),
            PulseSeries(label: "foreign cookies", actions: ["session.lookup_failed"], reasons: .only(foreignCookieReasons)),
            PulseSeries(label: "webhook effects", actions: ["payment.credited", "payment.recorded"]),
            PulseSeries(label: "webhook unmatched", actions: ["payment.unmatched"]),
            PulseSeries(label: "jobs failed", actions: ["job.failed"]),
            PulseSeries(label: "mail deferred", actions: ["mail.deferred"]),
            PulseSeries(label: "mail failed", actions: ["mail.failed"]),
        ]
    }()
}

/// The service at a glance: events per minute over a span ending at the current minute, and who
/// caused the most refusals in the last few minutes. Read from the per-minute rollup
/// (`AuditMinutes`), so an hour costs the same over ten events or ten million.
public struct AuditPulse: Sendable, Equatable {
    public struct Line: Sendable, Equatable {
        public var series: PulseSeries
        /// Events per minute, oldest first: `span` entries, the last the current minute.
        public var counts: [Int]
        /// Events counted but left out of the log by the audit throttle (in the span).
        public var unrecorded: Int
    }

    public enum OffenderKind: String, Sendable, CaseIterable {
        case address, user, bucket
    }

    public struct Offender: Sendable, Equatable {
        public var kind: OffenderKind
        public var key: String
        /// Refused or failed events in the offender window.
        public var count: Int
    }

    /// Minutes charted (60 or 1440).
    public var span: Int
    /// The current minute (Unix minutes): the last of `counts`.
    public var lastMinute: Int64
    public var lines: [Line]
    /// The top offenders of each kind, most first.
    public var offenders: [Offender]
    /// The minutes `offenders` covers.
    public var offenderMinutes: Int

    /// When minute `index` of `counts` began.
    public func start(ofMinute index: Int) -> Date {
        Date(timeIntervalSince1970: Double(lastMinute - Int64(span - 1) + Int64(index)) * 60)
    }
}

extension AuditLog {
    /// Failed or refused events read at most for the top offenders: a flood costs this much
    /// (about 15 ms). The audit throttle records at most 600 such events a minute by default.
    static let offenderScanLimit = 10_000

    /// The pulse over the `span` minutes up to now (60 for the hour, 1440 for the day) and the
    /// top `offenders` of each kind in the last `offenderMinutes`.
    public func pulse(span: Int = 60, offenders: Int = 5, offenderMinutes: Int = 5) async throws -> AuditPulse {
        let now = clock.now()
        let last = AuditMinutes.minute(of: now)
        let series = PulseSeries.standard
        let actions = Array(Set(series.flatMap(\.actions))).sorted()
        let placeholders = actions.map { _ in "?" }.joined(separator: ", ")
        return try await database.read { tx in
            let rows = try tx.fetchAll("""
                SELECT minute, action, reason, count, unrecorded FROM audit_minutes
                WHERE minute > ? AND minute <= ? AND action IN (\(placeholders))
                """, SQLArguments([.int(last - Int64(span)), .int(last)] + actions.map { .text($0) }))
            var counted: [(minute: Int, action: String, reason: String, count: Int, unrecorded: Int)] = []
            for row in rows {
                counted.append((Int(try row.decode("minute", as: Int64.self) - (last - Int64(span) + 1)), try row.decode("action"),
                                try row.decode("reason"), try row.decode("count"), try row.decode("unrecorded")))
            }
            var lines: [AuditPulse.Line] = []
            for definition in series {
                let matching = counted.filter { definition.actions.contains($0.action) && definition.reasons.admits($0.reason) }
                var parts: [PulseSeries] = [definition]
                if definition.splitByReason {
                    var totals: [String: Int] = [:]
                    for row in matching { totals[row.reason, default: 0] += row.count }
                    let reasons = totals.sorted { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }.map(\.key)
                    if !reasons.isEmpty {
                        parts = reasons.map { reason in
                            var part = definition
                            part.label = "refused: \(reason.isEmpty ? "other" : reason)"
                            part.reasons = .only([reason])
                            part.splitByReason = false
                            return part
                        }
                    }
                }
                for part in parts {
                    var counts = [Int](repeating: 0, count: span)
                    var unrecorded = 0
                    for row in matching where part.reasons.admits(row.reason) && counts.indices.contains(row.minute) {
                        counts[row.minute] += row.count
                        unrecorded += row.unrecorded
                    }
                    lines.append(AuditPulse.Line(series: part, counts: counts, unrecorded: unrecorded))
                }
            }
            let top = try Self.offenders(since: now.addingTimeInterval(-Double(offenderMinutes) * 60), limit: offenders, in: tx)
            return AuditPulse(span: span, lastMinute: last, lines: lines, offenders: top, offenderMinutes: offenderMinutes)
        }
    }

    /// Who caused the most failed or refused events since `since`: client addresses, users (by
    /// the user a session belongs to), and rate-limit buckets. Reads the partial index over
    /// problems backwards from the newest, from the first seq the rollup has for that minute,
    /// at most `offenderScanLimit` rows: the time is checked here rather than in the statement,
    /// so that rows out of time order (`at` comes from each writer's clock) can never make the
    /// scan longer than the limit.
    static func offenders(since: Date, limit: Int, in tx: any SQLTransaction) throws -> [AuditPulse.Offender] {
        guard let first = try tx.fetchScalar(Int64.self, "SELECT min(first_seq) FROM audit_minutes WHERE minute >= ?",
                                             [AuditMinutes.minute(of: since)]) else { return [] }
        let rows = try tx.fetchAll("""
            SELECT a.at, a.action, a.ip, a.target_type, a.target_id, a.details, u.email
            FROM (SELECT * FROM audit_events WHERE outcome <> 'success' AND seq >= ? ORDER BY seq DESC LIMIT ?) a
            LEFT JOIN sessions s ON a.target_type = 'session' AND s.handle = a.target_id
            LEFT JOIN users u ON u.id = s.user_id
            """, [first, offenderScanLimit])
        var tallies: [AuditPulse.OffenderKind: [String: Int]] = [:]
        for row in rows where try row.decode("at", as: Double.self) >= since.unixSeconds {
            if let ip: String = try row.decode("ip") { tallies[.address, default: [:]][ip, default: 0] += 1 }
            let targetType: String? = try row.decode("target_type")
            let user: String? = targetType == "user" ? try row.decode("target_id") : try row.decode("email")
            if let user { tallies[.user, default: [:]][user, default: 0] += 1 }
            let action: String = try row.decode("action")
            if action.hasSuffix(".rate_limited"), let details: String = try row.decode("details"),
               let object = try? JSONSerialization.jsonObject(with: Data(details.utf8)) as? [String: Any],
               let bucket = object["bucket"] as? String {
                tallies[.bucket, default: [:]][bucket, default: 0] += 1
            }
        }
        return AuditPulse.OffenderKind.allCases.flatMap { kind in
            (tallies[kind] ?? [:]).sorted { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }.prefix(limit)
                .map { AuditPulse.Offender(kind: kind, key: $0.key, count: $0.value) }
        }
    }
}
