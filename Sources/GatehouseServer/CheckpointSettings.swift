import Foundation
import GatehouseCore
import TOMLKit

/// The `[audit]` table: signed checkpoints of the audit chain, written on a schedule by `serve`
/// and `worker` and on demand by `gatehouse audit checkpoint`.
///
///     [audit]
///     checkpoint_key = "/etc/gatehouse/audit-checkpoint.key"   # Ed25519, mode 0600; FILE.pub verifies
///     checkpoint_dir = "/mnt/elsewhere/gatehouse-checkpoints"  # checkpoints.jsonl is appended there
///     checkpoint_interval = 3600                               # seconds, 60–86400
///
/// Relative paths are relative to the config file. Keep the folder off the database's host (a
/// mounted bucket, another machine's share): a checkpoint that an intruder can rewrite together
/// with the database proves nothing.
public struct CheckpointSettings: Sendable, Equatable {
    public var key: String?
    public var directory: String?
    public var interval: TimeInterval = 3600
    public static let intervalRange: ClosedRange<TimeInterval> = 60...86_400

    public init(key: String? = nil, directory: String? = nil) {
        self.key = key
        self.directory = directory
    }

    static func parse(_ table: TOMLTable, in document: TOMLDocument) throws(ConfigFileError) -> CheckpointSettings {
        var settings = CheckpointSettings()
        func path(_ value: String) -> String {
            value.hasPrefix("/") ? value : URL(fileURLWithPath: document.path).deletingLastPathComponent().appendingPathComponent(value).path
        }
        for key in table.keys {
            func fail(_ message: String) -> ConfigFileError { document.error("audit", key, message) }
            let value = table[key]!
            switch key {
            case "checkpoint_key":
                guard let text = value.string, !text.isEmpty else { throw fail("checkpoint_key must be a path") }
                settings.key = path(text)
            case "checkpoint_dir":
                guard let text = value.string, !text.isEmpty else { throw fail("checkpoint_dir must be a path") }
                settings.directory = path(text)
            case "checkpoint_interval":
                guard let seconds = value.double ?? value.int.map(Double.init), intervalRange.contains(seconds) else {
                    throw fail("checkpoint_interval must be a number of seconds, \(Int(intervalRange.lowerBound))–\(Int(intervalRange.upperBound))")
                }
                settings.interval = seconds
            default:
                throw fail("unknown key '\(key)' in [audit] (checkpoint_key, checkpoint_dir, checkpoint_interval)")
            }
        }
        if (settings.key == nil) != (settings.directory == nil) {
            throw document.error("audit", settings.key == nil ? "checkpoint_dir" : "checkpoint_key",
                                 "checkpoint_key and checkpoint_dir go together")
        }
        return settings
    }
}
