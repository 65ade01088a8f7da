import Foundation

/// Why a database file could not be opened. Each case carries what an operator needs to act.
public enum DatabaseOpenError: Error, Equatable, CustomStringConvertible {
    case missing(path: String)
    /// A PostgreSQL URL that does not parse (the reason never quotes the password).
    case invalidLocation(String)
    /// A PostgreSQL server that cannot be used, and why (`PostgresServer.describe`).
    case postgres(location: String, problem: String)
    /// Zero bytes or no table at all: only `init` (and `serve`) create a schema.
    case empty(path: String)
    case notADatabase(path: String)
    /// SQLite reported damaged pages (at open, in the bounded check, or at any statement since).
    case corrupt(path: String, detail: String)
    /// The folder cannot take the `-wal` and `-shm` files that WAL mode needs.
    case readOnlyDirectory(path: String, directory: String)
    /// The file is readable by group or others, and this process cannot change that.
    case readableByOthers(path: String, mode: String)
    case notAGatehouseDatabase(path: String)
    case newerSchema(path: String, unknownMigrations: [String])
    case locked(path: String, seconds: Double, holders: [Int32])
    case needsUpgrade(path: String)
    case permissionDenied(path: String)
    case other(path: String, message: String)

    public var description: String {
        switch self {
        case .missing(let path):
            return "database not found at \(path) (create it with `gatehouse init --db \(path)`)"
        case .invalidLocation(let why):
            return why
        case .postgres(let location, let problem):
            return "\(location): \(problem)"
        case .empty(let path):
            return "\(path) is empty: it has no Gatehouse schema (create it with `gatehouse init --db \(path)`)"
        case .notADatabase(let path):
            return "\(path) is not an SQLite database, or it is corrupt. " + Self.recovery(path)
        case .corrupt(let path, let detail):
            return "\(path) is corrupt (\(detail)); nothing more is written to it. " + Self.recovery(path)
        case .readOnlyDirectory(let path, let directory):
            return "cannot open \(path) for writing: its folder \(directory) is read-only, and SQLite must create \(path)-wal and "
                + "\(path)-shm beside it (WAL mode). Make the folder writable for this user, or move the file; read commands "
                + "(list, show, explain, audit) still work here"
        case .readableByOthers(let path, let mode):
            return "\(path) is readable by other users (mode \(mode)) and holds the signing keys; this user cannot change that: "
                + "run `chmod 600 \(path)` as its owner"
        case .notAGatehouseDatabase(let path):
            return "\(path) is an SQLite database but not a Gatehouse one (it has other tables and no Gatehouse schema)"
        case .newerSchema(let path, let unknown):
            return "\(path) was written by a newer Gatehouse (unknown migrations: \(unknown.joined(separator: ", "))); upgrade this binary"
        case .locked(let path, let seconds, let holders):
            return "database \(path) is locked by \(describeHolders(holders)) (waited \(formatSeconds(seconds)))"
        case .needsUpgrade(let path):
            return "\(path) needs a schema upgrade, which only init and serve do; run `gatehouse init --db \(path)` first"
        case .permissionDenied(let path):
            return "permission denied opening \(path)"
        case .other(let path, let message):
            return "cannot open \(path): \(message)"
        }
    }

    /// How an operator gets the data back out of a damaged file.
    static func recovery(_ path: String) -> String {
        "Stop every gatehouse process using it, then restore a backup, or salvage what is readable: "
            + "`sqlite3 \(path) .recover | sqlite3 recovered.sqlite` (`sqlite3 \(path) 'PRAGMA integrity_check'` lists the damage)"
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
