import Foundation

/// Why a database file could not be opened. Each case carries what an operator needs to act.
public enum DatabaseOpenError: Error, Equatable, CustomStringConvertible {
    case missing(path: String)
    case notADatabase(path: String)
    case notAGatehouseDatabase(path: String)
    case newerSchema(path: String, unknownMigrations: [String])
    case locked(path: String, seconds: Double, holders: [Int32])
    case readOnlyNeedsMigration(path: String)
    case permissionDenied(path: String)
    case other(path: String, message: String)

    public var description: String {
        switch self {
        case .missing(let path):
            return "database not found at \(path) (create it with `gatehouse init --db \(path)`)"
        case .notADatabase(let path):
            return "\(path) is not an SQLite database, or it is corrupt"
        case .notAGatehouseDatabase(let path):
            return "\(path) is an SQLite database but not a Gatehouse one (it has other tables and no Gatehouse schema)"
        case .newerSchema(let path, let unknown):
            return "\(path) was written by a newer Gatehouse (unknown migrations: \(unknown.joined(separator: ", "))); upgrade this binary"
        case .locked(let path, let seconds, let holders):
            return "database \(path) is locked by \(describeHolders(holders)) (waited \(formatSeconds(seconds)))"
        case .readOnlyNeedsMigration(let path):
            return "\(path) needs a schema upgrade, which a read-only open cannot do; run `gatehouse init --db \(path)` first"
        case .permissionDenied(let path):
            return "permission denied opening \(path)"
        case .other(let path, let message):
            return "cannot open \(path): \(message)"
        }
    }
}

/// "pid 4121", "pids 4121, 4122" or "another process" when the holder cannot be seen.
func describeHolders(_ pids: [Int32]) -> String {
    switch pids.count {
    case 0: "another process"
    case 1: "pid \(pids[0])"
    default: "pids " + pids.map(String.init).joined(separator: ", ")
    }
}

private func formatSeconds(_ seconds: Double) -> String {
    seconds == seconds.rounded() ? "\(Int(seconds)) s" : String(format: "%.1f s", seconds)
}
