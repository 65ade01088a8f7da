import Foundation

/// Durations as people on call read them: "3m 2s ago", "in 6d 2h", "16s", "—".
public enum TimeText {
    public static func span(_ seconds: TimeInterval) -> String {
        let s = Int(seconds.rounded(.down))
        switch s {
        case ..<60: return "\(max(0, s))s"
        case ..<3600: return "\(s / 60)m \(s % 60)s"
        case ..<86400: return "\(s / 3600)h \(s % 3600 / 60)m"
        default: return "\(s / 86400)d \(s % 86400 / 3600)h"
        }
    }

    /// A moment in UTC, to the second: "2026-11-21T21:05:43Z".
    public static func timestamp(_ date: Date) -> String { date.formatted(.iso8601) }

    /// "3m 2s ago" or "in 6d 2h"; "-" for no date.
    public static func relative(_ date: Date?, now: Date) -> String {
        guard let date else { return "-" }
        let seconds = date.timeIntervalSince(now)
        return seconds < 0 ? span(-seconds) + " ago" : "in " + span(seconds)
    }

    public static func since(_ date: Date, now: Date) -> String { span(now.timeIntervalSince(date)) + " ago" }

    /// An age in its largest unit, as k9s shows it: "16s", "3m", "5h", "2d".
    public static func age(_ date: Date, now: Date) -> String {
        let s = max(0, Int(now.timeIntervalSince(date).rounded(.down)))
        switch s {
        case ..<60: return "\(s)s"
        case ..<3600: return "\(s / 60)m"
        case ..<86400: return "\(s / 3600)h"
        default: return "\(s / 86400)d"
        }
    }

    /// A countdown: "6d 23h", or "—" once past.
    public static func until(_ date: Date, now: Date) -> String {
        let left = date.timeIntervalSince(now)
        return left <= 0 ? "—" : span(left)
    }
}
