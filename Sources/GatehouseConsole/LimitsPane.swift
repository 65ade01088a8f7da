import Foundation
import GatehouseCore
import TerminalKit

/// Rate-limit buckets, most blocked first: who is being throttled, how hard, and when they
/// may go again.
enum LimitsPane {
    static let columns = [
        TableColumn("BUCKET", min: 20, max: 60, flex: 3),
        TableColumn("RATE", min: 10, max: 14),
        TableColumn("LEFT", min: 7, max: 13, alignRight: true),
        TableColumn("RETRY IN", min: 8, max: 8),
        TableColumn("ALLOWED", min: 7, max: 10, alignRight: true),
        TableColumn("BLOCKED", min: 7, max: 10, alignRight: true),
        TableColumn("LAST BLOCKED", min: 12, max: 12),
        TableColumn("FULL IN", min: 7, max: 7),
    ]

    static func rate(_ bucket: RateLimitBucket) -> String {
        RateLimitPolicy(name: bucket.policy, limit: bucket.limit, period: bucket.period).rateDescription
    }

    static func cells(_ bucket: RateLimitBucket, now: Date) -> [String] {
        let retry = bucket.retryAfter(at: now)
        return [bucket.key, rate(bucket), "\(bucket.remaining(at: now))/\(bucket.limit)",
                retry > 0 ? TimeText.until(now.addingTimeInterval(retry), now: now) : "—",
                String(bucket.allowedTotal), String(bucket.blockedTotal),
                bucket.lastBlockedAt.map { TimeText.since($0, now: now) } ?? "never",
                bucket.tat > now ? TimeText.until(bucket.tat, now: now) : "full"]
    }

    /// A bucket that is full again and never blocked anyone is of little interest: dimmed.
    static func isQuiet(_ bucket: RateLimitBucket, now: Date) -> Bool { bucket.tat <= now && bucket.blockedTotal == 0 }

    /// A bucket that refuses requests right now.
    static func isBlocking(_ bucket: RateLimitBucket, now: Date) -> Bool { bucket.retryAfter(at: now) > 0 }
}

/// The detail view behind `enter` on a bucket: its numbers and the operator resets it had.
enum LimitDetail {
    static func view(_ bucket: RateLimitBucket, events: [AuditEvent], now: Date) -> TextView {
        var lines: [StyledLine] = []
        func field(_ label: String, _ value: String) { lines.append(StyledLine(DisplayWidth.fit(label, to: 18) + value)) }
        field("bucket", bucket.key)
        field("policy", "\(bucket.policy) (\(LimitsPane.rate(bucket)))")
        field("requests left", "\(bucket.remaining(at: now)) of \(bucket.limit)")
        let retry = bucket.retryAfter(at: now)
        field("next allowed", retry > 0 ? "in \(TimeText.until(now.addingTimeInterval(retry), now: now))" : "now")
        field("full again", bucket.tat > now ? "\(TimeText.timestamp(bucket.tat)) (in \(TimeText.until(bucket.tat, now: now)))" : "now")
        field("allowed total", String(bucket.allowedTotal))
        field("blocked total", String(bucket.blockedTotal))
        field("last blocked", bucket.lastBlockedAt.map { "\(TimeText.timestamp($0)) (\(TimeText.since($0, now: now)))" } ?? "never")
        field("last request", "\(TimeText.timestamp(bucket.updatedAt)) (\(TimeText.since(bucket.updatedAt, now: now)))")
        lines.append(StyledLine(""))
        lines.append(StyledLine("RESETS", style: Style(attributes: [.bold])))
        if events.isEmpty { lines.append(StyledLine("  none")) }
        for event in events {
            lines.append(StyledLine("  \(event.seq)  \(TimeText.timestamp(event.at))  \(AuditPane.actor(event))  \(event.details ?? "")"))
        }
        return TextView(title: "Bucket \(bucket.key)", lines: lines)
    }
}
