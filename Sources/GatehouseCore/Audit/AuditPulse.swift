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

    static let foreignCookieReasons = CredentialFailure.foreignCookie.map(\.rawValue)
    /// The refusals with 429 that the audit log records (each names its rate-limit bucket).
    static let rateLimitedActions = ["magic_link.rate_limited", "refresh.rate_limited"]

    /// What the Pulse pane charts, in order.
    public static let standard: [PulseSeries] = {
        var refused = PulseSeries(label: "refresh refused", actions: ["refresh.failed"])
        refused.splitByReason = true
        return [
            PulseSeries(label: "logins", actions: ["session.created"]),
            PulseSeries(label: "refreshes", actions: ["refresh.rotated"]),
            refused,
            PulseSeries(label: "429 rate limited", actions: rateLimitedActions),
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
        /// Events per point (`minutesPerPoint` minutes each), oldest first; the last point ends
        /// with the current minute.
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

    /// Points per line: the span divided into `minutesPerPoint`-minute steps, rounded up.
    public var points: Int
    public var minutesPerPoint: Int
    /// The current minute (Unix minutes): the last minute of the last point.
    public var lastMinute: Int64
    public var lines: [Line]
    /// The top offenders of each kind, most first.
    public var offenders: [Offender]
    /// The minutes `offenders` covers.
    public var offenderMinutes: Int

    /// Minutes the points cover together (the span, rounded up to whole points).
    public var minutes: Int { points * minutesPerPoint }

    /// The Unix minute `date` falls in, as the rollup counts it.
    public static func minute(of date: Date) -> Int64 { AuditMinutes.minute(of: date) }

    /// The middle value of `values` (the upper one of two), 0 for none: what spikes are judged against.
    public static func median(_ values: [Int]) -> Int {
        let sorted = values.sorted()
        return sorted.isEmpty ? 0 : sorted[sorted.count / 2]
    }

    /// When point `index` begins and ends (the end is the next point's start).
    public func interval(ofPoint index: Int) -> (start: Date, end: Date) {
        let end = lastMinute + 1 - Int64(points - 1 - index) * Int64(minutesPerPoint)
        return (Date(timeIntervalSince1970: Double(end - Int64(minutesPerPoint)) * 60), Date(timeIntervalSince1970: Double(end) * 60))
    }
}

extension AuditLog {
    /// Failed or refused events read at most for the top offenders: a flood costs this much
    /// (about 15 ms). The audit throttle records at most 600 such events a minute by default.
    static let offenderScanLimit = 10_000

    /// The pulse over the `span` minutes up to now (60 for the hour, 1440 for the day) in points
    /// of `minutesPerPoint` minutes (what a chart has room for: one column a point), summed by
    /// the database, so a day costs what an hour does; and the top `offenders` of each kind in
    /// the last `offenderMinutes`.
    public func pulse(span: Int = 60, minutesPerPoint: Int = 1, offenders: Int = 5, offenderMinutes: Int = 5) async throws -> AuditPulse {
        let now = clock.now()
        let last = AuditMinutes.minute(of: now)
        let step = max(1, minutesPerPoint)
        let points = max(1, (span + step - 1) / step)
        let series = PulseSeries.standard
        let actions = Array(Set(series.flatMap(\.actions))).sorted()
        let placeholders = actions.map { _ in "?" }.joined(separator: ", ")
        return try await database.read { tx in
            // `back`: how many points before the newest (0: the one ending now).
            let rows = try tx.fetchAll("""
                SELECT (? - minute) / ? AS back, action, reason, sum(count) AS count, sum(unrecorded) AS unrecorded FROM audit_minutes
                WHERE minute > ? AND minute <= ? AND action IN (\(placeholders))
                GROUP BY back, action, reason
                """, SQLArguments([.int(last), .int(Int64(step)), .int(last - Int64(points * step)), .int(last)] + actions.map { .text($0) }))
            var counted: [(point: Int, action: String, reason: String, count: Int, unrecorded: Int)] = []
            for row in rows {
                counted.append((points - 1 - Int(try row.decode("back", as: Int64.self)), try row.decode("action"),
                                try row.decode("reason"), try row.decode("count"), try row.decode("unrecorded")))
            }
            var lines: [AuditPulse.Line] = []
            for definition in series {
                let matching = counted.filter { definition.actions.contains($0.action) && definition.reasons.admits($0.reason) }
                for part in Self.split(definition, by: matching.map { ($0.reason, $0.count) }) {
                    var counts = [Int](repeating: 0, count: points)
                    var unrecorded = 0
                    for row in matching where part.reasons.admits(row.reason) && counts.indices.contains(row.point) {
                        counts[row.point] += row.count
                        unrecorded += row.unrecorded
                    }
                    lines.append(AuditPulse.Line(series: part, counts: counts, unrecorded: unrecorded))
                }
            }
            let top = try Self.offenders(since: now.addingTimeInterval(-Double(offenderMinutes) * 60), limit: offenders, in: tx)
            return AuditPulse(points: points, minutesPerPoint: step, lastMinute: last, lines: lines, offenders: top,
                              offenderMinutes: offenderMinutes)
        }
    }

    /// A series split by reason becomes one series per reason seen, most first (itself when none was).
    private static func split(_ definition: PulseSeries, by counts: [(reason: String, count: Int)]) -> [PulseSeries] {
        guard definition.splitByReason else { return [definition] }
        var totals: [String: Int] = [:]
        for row in counts { totals[row.reason, default: 0] += row.count }
        let reasons = mostFirst(totals).map(\.key)
        guard !reasons.isEmpty else { return [definition] }
        return reasons.map { reason in
            var part = definition
            part.label = "refused: \(reason.isEmpty ? "other" : reason)"
            part.reasons = .only([reason])
            part.splitByReason = false
            return part
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
        // Grouped by the database: one row per address, target and bucket seen, not per event;
        // only then are session targets looked up for their user (a join per group, not per row).
        let bucket = tx.dialect.jsonText("r.details", key: "bucket")
        let limited = PulseSeries.rateLimitedActions.map { "'\($0)'" }.joined(separator: ", ")
        let rows = try tx.fetchAll("""
            SELECT g.ip, CASE WHEN g.target_type = 'user' THEN g.target_id ELSE u.email END AS user_key, g.bucket, g.n
            FROM (SELECT r.ip, r.target_type, r.target_id,
                         CASE WHEN r.action IN (\(limited)) THEN \(bucket) END AS bucket, count(*) AS n
                  FROM (SELECT * FROM audit_events WHERE outcome <> 'success' AND seq >= ? ORDER BY seq DESC LIMIT ?) r
                  WHERE r.at >= ?
                  GROUP BY r.ip, r.target_type, r.target_id, bucket) g
            LEFT JOIN sessions s ON g.target_type = 'session' AND s.handle = g.target_id
            LEFT JOIN users u ON u.id = s.user_id
            """, [first, offenderScanLimit, since.unixSeconds])
        var tallies: [AuditPulse.OffenderKind: [String: Int]] = [:]
        for row in rows {
            let count: Int = try row.decode("n")
            if let ip: String = try row.decode("ip") { tallies[.address, default: [:]][ip, default: 0] += count }
            if let user: String = try row.decode("user_key") { tallies[.user, default: [:]][user, default: 0] += count }
            if let bucket: String = try row.decode("bucket") { tallies[.bucket, default: [:]][bucket, default: 0] += count }
        }
        return AuditPulse.OffenderKind.allCases.flatMap { kind in
            mostFirst(tallies[kind] ?? [:]).prefix(limit).map { AuditPulse.Offender(kind: kind, key: $0.key, count: $0.value) }
        }
    }

    /// Counts by key, largest first, ties by key: a stable order for the screen and the goldens.
    private static func mostFirst(_ totals: [String: Int]) -> [(key: String, value: Int)] {
        totals.sorted { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }
    }
}
