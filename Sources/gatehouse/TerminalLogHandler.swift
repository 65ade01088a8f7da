import Foundation
import GatehouseCore
import Logging
import TerminalKit

/// `serve`'s log lines on standard error, one per event (time, level, label, metadata, source,
/// message), each neutralised whole by `TerminalText`: a request path, a header or an error's
/// text may carry characters from outside, and a log is read in a terminal. A newline inside a
/// message is shown as `\n`, so one event is always one line (no forged log lines).
struct TerminalLogHandler: LogHandler {
    let label: String
    var logLevel: Logger.Level = .info
    var metadata: Logger.Metadata = [:]
    var metadataProvider: Logger.MetadataProvider?

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        var merged = metadata
        if let provided = metadataProvider?.get() { merged.merge(provided) { $1 } }
        if let explicit = event.metadata { merged.merge(explicit) { $1 } }
        let fields = merged.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
        let line = "\(Timestamp.iso8601(Date())) \(event.level) \(label):\(fields.isEmpty ? "" : " " + fields) [\(event.source)] \(event.message)"
        FileHandle.standardError.write(Data((TerminalText.neutralised(line) + "\n").utf8))
    }
}
