import Foundation

/// The text of a Linux /proc file, read to its end. `String(contentsOfFile:)` trusts the size
/// stat reports, which is 0 for /proc files, and stops after the first 4 KiB: /proc/locks on a
/// busy machine (a few hundred SQLite connections) is far longer, and a lock holder listed past
/// that point went unnamed. Nil where the file does not exist (not Linux).
public enum ProcFile {
    public static func text(_ path: String) -> String? {
        guard let handle = FileHandle(forReadingAtPath: path) else { return nil }
        defer { try? handle.close() }
        guard let data = try? handle.readToEnd() else { return nil }
        return String(decoding: data, as: UTF8.self)
    }
}
