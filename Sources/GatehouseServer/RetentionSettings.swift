import Foundation
import GatehouseCore
import TOMLKit

/// The `[retention]` table: how long what has ended is kept, and how often the `retention`
/// job runs. Without the table nothing is removed on a schedule (`gatehouse jobs start
/// retention` runs it by hand).
///
///     [retention]
///     ended_sessions_days = 90   # ended sessions, their secrets and refresh tokens
///     outbox_days = 30           # sign-in mail and magic links
///     finished_jobs_days = 30    # finished jobs and their documents
///     audit_archive_days = 365   # audit rows older go to archive files (0: none; needs archive_dir)
///     archive_dir = "/mnt/archive/gatehouse"  # with [audit] checkpoint_key, the cut is signed
///     interval = 86400           # seconds between runs, 600–604800
///
/// 0 keeps a kind for good. Forensics explains logouts only within `ended_sessions_days`.
public struct RetentionSettings: Sendable, Equatable {
    public var policy = RetentionPolicy()
    /// nil: no schedule.
    public var interval: TimeInterval?
    public static let intervalRange: ClosedRange<TimeInterval> = 600...604_800

    public init() {}

    static func parse(_ table: TOMLTable, in document: TOMLDocument) throws(ConfigFileError) -> RetentionSettings {
        var settings = RetentionSettings()
        settings.interval = 86_400
        for key in table.keys {
            func fail(_ message: String) -> ConfigFileError { document.error("retention", key, message) }
            let value = table[key]!
            func days() throws(ConfigFileError) -> Int {
                guard let number = value.int, RetentionPolicy.dayRange.contains(number) else {
                    throw fail("\(key) must be a whole number of days, 0–\(RetentionPolicy.dayRange.upperBound) (0 keeps them)")
                }
                return number
            }
            switch key {
            case "ended_sessions_days": settings.policy.endedSessionDays = try days()
            case "outbox_days": settings.policy.outboxDays = try days()
            case "finished_jobs_days": settings.policy.finishedJobDays = try days()
            case "audit_archive_days": settings.policy.auditArchiveDays = try days()
            case "archive_dir":
                guard let text = value.string, !text.isEmpty else { throw fail("archive_dir must be a path") }
                settings.policy.archiveDirectory = text.hasPrefix("/") ? text
                    : URL(fileURLWithPath: document.path).deletingLastPathComponent().appendingPathComponent(text).path
            case "interval":
                guard let seconds = value.double ?? value.int.map(Double.init), intervalRange.contains(seconds) else {
                    throw fail("interval must be a number of seconds, \(Int(intervalRange.lowerBound))–\(Int(intervalRange.upperBound))")
                }
                settings.interval = seconds
            default:
                throw fail("unknown key '\(key)' in [retention] (ended_sessions_days, outbox_days, finished_jobs_days, audit_archive_days, archive_dir, interval)")
            }
        }
        if settings.policy.auditArchiveDays > 0, settings.policy.archiveDirectory == nil {
            throw document.error("retention", "audit_archive_days", "audit_archive_days needs archive_dir (where the archive files go)")
        }
        return settings
    }
}
