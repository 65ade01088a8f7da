import Foundation
import GRDB

/// `gatehouse backup` and `restore` for an SQLite database: a consistent copy of a live file,
/// verified before it is trusted.
///
/// - The copy is SQLite's online backup (`sqlite3_backup`, all pages in one step inside a read
///   transaction): a snapshot of one instant under WAL, while `serve` goes on writing.
/// - It is written under a temporary name, checked (`PRAGMA integrity_check`, then `audit
///   verify` on the copy), made mode 0600, and only then renamed into place: a backup that
///   exists is one that verified.
/// - Restore checks the backup the same way, refuses a target that a process has open (stop
///   `serve` and workers first), and copies it in with the same API.
///
/// PostgreSQL has its own tools for this (`pg_dump`, point-in-time recovery): `backup` says so.
public enum DatabaseBackup {
    public struct Report: Sendable {
        public var path: String
        public var bytes: Int64
        /// Audit events verified in the copy, and its chain head.
        public var auditEvents: Int
        public var auditHead: Int64?
    }

    public enum Failure: Error, Equatable, CustomStringConvertible {
        case postgres
        case exists(String)
        case inUse(path: String, pids: [Int32])
        case damaged(path: String, problem: String)

        public var description: String {
            switch self {
            case .postgres:
                "backup copies SQLite files; for PostgreSQL use pg_dump -Fc (restore with pg_restore, then gatehouse audit verify) or continuous WAL archiving (point-in-time recovery). `gatehouse copy --from URL --to snapshot.sqlite` also makes a verified one-file snapshot"
            case .exists(let path): "\(path) exists; give --force to replace it"
            case .inUse(let path, let pids) where pids.isEmpty:
                "cannot tell whether a process has \(path) open: stop serve and workers, then restore over it"
            case .inUse(let path, let pids):
                "\(path) is open in process\(pids.count == 1 ? "" : "es") \(pids.map(String.init).joined(separator: ", ")): stop serve and workers before restoring over it"
            case .damaged(let path, let problem): "\(path) did not verify: \(problem); nothing was replaced"
            }
        }
    }

    /// Copies `database` to `path` while it is in use, verifies the copy, and only then puts it there.
    public static func backup(_ database: GatehouseDatabase, to path: String, replacing: Bool = false) async throws -> Report {
        guard case .sqlite(let engine) = database.engine else { throw Failure.postgres }
        if FileManager.default.fileExists(atPath: path), !replacing { throw Failure.exists(path) }
        let temporary = path + ".partial-\(getpid())"
        defer { for suffix in ["", "-journal", "-wal", "-shm"] { removeFile(temporary + suffix) } }
        try copy(from: engine.pool, to: temporary)
        let report = try await verify(temporary)
        try place(temporary, at: path)
        return Report(path: path, bytes: report.bytes, auditEvents: report.auditEvents, auditHead: report.auditHead)
    }

    /// Verifies the backup at `backup` and copies it to `path` (which no process may have open).
    public static func restore(from backup: String, to path: String, replacing: Bool = false) async throws -> Report {
        let checked = try await verify(backup)
        if FileManager.default.fileExists(atPath: path) {
            guard replacing else { throw Failure.exists(path) }
            guard let pids = LockHolders.users(of: path) else { throw Failure.inUse(path: path, pids: []) }
            guard pids.isEmpty else { throw Failure.inUse(path: path, pids: pids) }
        }
        let temporary = path + ".partial-\(getpid())"
        defer { for suffix in ["", "-journal", "-wal", "-shm"] { removeFile(temporary + suffix) } }
        let source = try DatabaseQueue(path: backup, configuration: readOnly)
        try copy(from: source, to: temporary)
        try source.close()
        // The copy is ready: the old file's -wal, -shm and -journal belong to it and go with it
        // (a leftover journal would be rolled back into the new file).
        for suffix in ["-wal", "-shm", "-journal"] { removeFile(path + suffix) }
        try place(temporary, at: path)
        return Report(path: path, bytes: checked.bytes, auditEvents: checked.auditEvents, auditHead: checked.auditHead)
    }

    private static var readOnly: Configuration {
        var configuration = Configuration()
        configuration.readonly = true
        return configuration
    }

    /// The online backup of `source` into a new file at `path`, in rollback-journal mode so that
    /// the copy is one file with nothing beside it.
    private static func copy(from source: any DatabaseReader, to path: String) throws {
        removeFile(path)
        let destination = try DatabaseQueue(path: path)
        try source.backup(to: destination)
        try destination.writeWithoutTransaction { db in _ = try String.fetchOne(db, sql: "PRAGMA journal_mode = DELETE") }
        try destination.close()
    }

    /// `PRAGMA integrity_check` and the audit chain, on the file at `path`.
    static func verify(_ path: String) async throws -> Report {
        guard FileManager.default.fileExists(atPath: path) else { throw Failure.damaged(path: path, problem: "no such file") }
        do {
            let queue = try DatabaseQueue(path: path, configuration: readOnly)
            let lines = try await queue.read { db in try String.fetchAll(db, sql: "PRAGMA integrity_check(5)") }
            try queue.close()
            guard lines == ["ok"] else { throw Failure.damaged(path: path, problem: "integrity_check: " + lines.joined(separator: "; ")) }
        } catch let failure as Failure {
            throw failure
        } catch {
            throw Failure.damaged(path: path, problem: "\(error)")
        }
        let gatehouse = try Gatehouse.open(path: path, options: DatabaseOptions(readOnly: true))
        defer { try? gatehouse.database.close() }
        let chain = try await gatehouse.audit.verify()
        guard chain.isIntact else {
            throw Failure.damaged(path: path, problem: "audit chain broken at seq \(chain.firstBrokenSeq ?? 0): \(chain.problem ?? "")")
        }
        let head = try await gatehouse.audit.tail(limit: 1).last?.seq
        let bytes = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? NSNumber)?.int64Value ?? 0
        return Report(path: path, bytes: bytes, auditEvents: chain.checked, auditHead: head)
    }

    /// Mode 0600, then renamed over `path`.
    private static func place(_ temporary: String, at path: String) throws {
        guard chmod(temporary, 0o600) == 0, rename(temporary, path) == 0 else {
            throw Failure.damaged(path: path, problem: "cannot put the file in place: \(String(cString: strerror(errno)))")
        }
    }

    private static func removeFile(_ path: String) {
        unlink(path)
    }
}
