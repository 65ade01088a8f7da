import Foundation
import GRDB
import Synchronization

/// The SQLite side of the seam: one file in WAL mode that the server, the console and the CLI
/// share. Readers (the console) run beside the writer (the server) in other processes; every
/// write transaction is `BEGIN IMMEDIATE`, so read-modify-write rules such as a rate-limit
/// check or a token rotation are atomic across processes without row locks.
final class SQLiteEngine: Sendable {
    let path: String
    let options: DatabaseOptions
    let pool: DatabasePool
    let coalescer: WriteCoalescer
    private let checkpoints: WALCheckpoints
    /// Connections for `pointRead` (none when the file is opened read-only: the console and the
    /// CLI have no hot lookups, and keep their memory).
    let inline: InlineReaders?
    /// What opening changed that the operator should hear (permissions tightened).
    let openingNotes: [String]
    /// The one bound on waiting for another process's write lock (`busyTimeout`).
    let lockWait: LockWait
    private let corruption = Mutex<String?>(nil)
    /// True when this open created the file.
    let created: Bool

    private init(path: String, options: DatabaseOptions, pool: DatabasePool, lockWait: LockWait, checkpoints: WALCheckpoints,
                 notes: [String], created: Bool) {
        self.path = path
        self.created = created
        self.options = options
        self.pool = pool
        self.lockWait = lockWait
        self.openingNotes = notes
        self.checkpoints = checkpoints
        coalescer = WriteCoalescer(pool: pool, lockWait: lockWait, checkpoints: checkpoints)
        inline = options.readOnly ? nil : InlineReaders(path: path, capacity: ProcessInfo.processInfo.activeProcessorCount, prepare: Self.prepareConnection(options))
    }

    /// What every connection of this engine runs when it opens: Gatehouse's SQL functions and
    /// the page cache asked for.
    private static func prepareConnection(_ options: DatabaseOptions) -> @Sendable (Database) throws -> Void {
        let cache = options.pageCacheKiB
        return { db in
            db.add(function: TextMatchFunction.function)
            if let cache { try db.execute(sql: "PRAGMA cache_size = -\(max(64, cache))") }
        }
    }

    static func open(path: String, options: DatabaseOptions) throws(DatabaseOpenError) -> SQLiteEngine {
        let file = DatabaseFile(path: path)
        var created: ino_t? = nil
        if !file.exists {
            guard options.createIfMissing, !options.readOnly else { throw .missing(path: path) }
            created = try file.create()
        } else if file.isEmpty, !options.createIfMissing {
            // Not even SQLite's header: opening it for writing would make it a database.
            throw .empty(path: path)
        }
        do {
            var notes: [String] = []
            if options.createIfMissing, !options.readOnly, created == nil, let note = try file.restrictToOwner() { notes.append(note) }
            let lockWait = LockWait(seconds: options.busyTimeout)
            let checkpoints = WALCheckpoints()
            let pool = try openPool(file, options: options, lockWait: lockWait, checkpoints: checkpoints)
            return SQLiteEngine(path: path, options: options, pool: pool, lockWait: lockWait, checkpoints: checkpoints,
                                notes: notes, created: created != nil)
        } catch {
            // A create that failed (a full disk, a folder that went read-only) leaves nothing behind.
            if let created { file.remove(created: created) }
            throw error
        }
    }

    private static func openPool(_ file: DatabaseFile, options: DatabaseOptions, lockWait: LockWait,
                                 checkpoints: WALCheckpoints) throws(DatabaseOpenError) -> DatabasePool {
        var config = Configuration()
        config.readonly = options.readOnly
        config.busyMode = lockWait.busyMode
        config.foreignKeysEnabled = true
        config.maximumReaderCount = max(1, options.maximumReaders)
        let prepare = prepareConnection(options)
        config.prepareDatabase { db in try prepare(db) }

        // A folder nobody may write to cannot take -wal and -shm; a reader can still open the
        // file as immutable (nothing can change it while the folder stays read-only).
        let immutable = options.readOnly && !file.directoryIsWritable && !file.companionsExist && file.walIsEmpty
        let location = immutable ? "file:\(file.path.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed) ?? file.path)?immutable=1" : file.path
        do {
            let pool = try DatabasePool(path: location, configuration: config)
            if !options.readOnly {
                // GRDB sets NORMAL when it enables WAL, after any prepareDatabase hook; the pool
                // keeps this one writer connection, so setting it here lasts.
                try pool.writeWithoutTransaction { db in
                    try db.execute(sql: "PRAGMA synchronous = \(options.synchronous.rawValue)")
                }
                try checkpoints.install(on: pool)
            }
            try prepareSchema(pool, path: file.path, options: options)
            return pool
        } catch let error as DatabaseOpenError {
            throw error
        } catch {
            throw classify(error, file: file, options: options)
        }
    }

    private static func prepareSchema(_ pool: DatabasePool, path: String, options: DatabaseOptions) throws {
        let migrator = Schema.migrator
        let status = try pool.read { db -> (superseded: Bool, unknown: [String], foreign: Bool, complete: Bool) in
            let hasMigrationTable = try db.tableExists("grdb_migrations")
            let tableCount = try Int.fetchOne(db, sql: "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'") ?? 0
            if !hasMigrationTable {
                return (false, [], tableCount > 0, false)
            }
            let applied = try migrator.appliedIdentifiers(db)
            let unknown = applied.subtracting(migrator.migrations).sorted()
            return (!unknown.isEmpty, unknown, false, try migrator.hasCompletedMigrations(db))
        }
        if status.foreign { throw DatabaseOpenError.notAGatehouseDatabase(path: path) }
        if !status.complete, status.unknown.isEmpty, !options.createIfMissing,
           try pool.read({ try !$0.tableExists("grdb_migrations") }) {
            throw DatabaseOpenError.empty(path: path)
        }
        if status.superseded { throw DatabaseOpenError.newerSchema(path: path, unknownMigrations: status.unknown) }
        if status.complete { return }
        // Only init and serve change the schema: an upgrade can report what it found (init
        // lists email conflicts), and a CLI command must not do it silently on the way.
        if options.readOnly || !options.createIfMissing { throw DatabaseOpenError.needsUpgrade(path: path) }
        try migrator.migrate(pool)
    }

    private static func classify(_ error: any Error, file: DatabaseFile, options: DatabaseOptions) -> DatabaseOpenError {
        let path = file.path
        guard let dbError = error as? DatabaseError else {
            return .other(path: path, message: "\(error)")
        }
        switch dbError.resultCode {
        case .SQLITE_NOTADB:
            return .notADatabase(path: path)
        case .SQLITE_CORRUPT:
            return .corrupt(path: path, detail: dbError.message ?? "database disk image is malformed")
        case .SQLITE_BUSY, .SQLITE_LOCKED:
            return .locked(path: path, seconds: options.busyTimeout, holders: LockHolders.writers(of: path))
        case .SQLITE_CANTOPEN where !file.directoryIsWritable, .SQLITE_READONLY where !file.directoryIsWritable:
            return file.folderProblem
        case .SQLITE_PERM, .SQLITE_READONLY, .SQLITE_AUTH:
            return .permissionDenied(path: path)
        case .SQLITE_CANTOPEN:
            return .other(path: path, message: "SQLite cannot open the file (\(dbError.message ?? "no detail"))")
        case .SQLITE_FULL:
            return .other(path: path, message: "the disk is full")
        case .SQLITE_IOERR:
            return .other(path: path, message: "writing failed (\(dbError.message ?? "disk I/O error")): is the disk full, or the file too large for this process's limits?")
        default:
            return .other(path: path, message: dbError.message ?? "\(dbError)")
        }
    }

    // MARK: - Transactions

    /// A `BEGIN IMMEDIATE` transaction, possibly shared with other writes that arrived at the
    /// same moment (group commit; see `WriteCoalescer`): `body` commits or rolls back alone.
    func write<T: Sendable>(_ body: @escaping @Sendable (any SQLTransaction) throws -> T) async throws -> T {
        try refuseWritesIfCorrupt()
        return try await watching { try await coalescer.write { db in try body(GRDBTransaction(db: db)) } }
    }

    /// A read-only snapshot; never blocks writers.
    func read<T: Sendable>(_ body: @escaping @Sendable (any SQLTransaction) throws -> T) async throws -> T {
        try await watching { try await pool.read { db in try body(GRDBTransaction(db: db)) } }
    }

    /// `read` for a lookup by key: on the calling thread when it stays that cheap
    /// (`InlineReaders`), else through the pool. `body` may run twice: it must only read.
    func pointRead<T: Sendable>(_ body: @escaping @Sendable (any SQLTransaction) throws -> T) async throws -> T {
        if let inline, case .done(let value) = try watching({ try inline.read(body) }) { return value }
        return try await read(body)
    }

    func writeSync<T>(_ body: (any SQLTransaction) throws -> T) throws -> T {
        try refuseWritesIfCorrupt()
        // The caller's thread is its own here (a CLI, a seeding loop): the checkpoint a commit
        // made due runs on it (`WALCheckpoints`), or a process that only writes this way would
        // grow the log without end.
        defer { coalescer.outside { checkpoints.runIfDue(on: pool) } }
        return try watching { try coalescer.outside { try pool.write { db in try body(GRDBTransaction(db: db)) } } }
    }

    func readSync<T>(_ body: (any SQLTransaction) throws -> T) throws -> T {
        try watching { try pool.read { db in try body(GRDBTransaction(db: db)) } }
    }

    var writeStatistics: WriteStatistics { coalescer.statistics }

    /// The connection outside a transaction, for pragmas that refuse to run in one.
    func writeWithoutTransaction<T>(_ body: (Database) throws -> T) throws -> T {
        try refuseWritesIfCorrupt()
        return try watching { try coalescer.outside { try pool.writeWithoutTransaction(body) } }
    }

    func schemaVersion() async throws -> String? {
        try await watching { try await pool.read { db in try Schema.migrator.appliedMigrations(db).last } }
    }

    // MARK: - Corruption

    /// SQLite's words for the damage, once any statement (or `quickCheck`) met it; nil while
    /// none has. It stays set until the process restarts: `/healthz` answers 503 with it.
    var corruptionFound: String? { corruption.withLock { $0 } }

    /// Writing into a damaged b-tree can spread the damage: once it is known, writes stop.
    private func refuseWritesIfCorrupt() throws(DatabaseOpenError) {
        if let detail = corruptionFound { throw .corrupt(path: path, detail: detail) }
    }

    private func note(_ error: any Error) {
        guard let error = error as? DatabaseError, error.resultCode == .SQLITE_CORRUPT || error.resultCode == .SQLITE_NOTADB else { return }
        corruption.withLock { $0 = $0 ?? (error.message ?? "database disk image is malformed") }
    }

    private func watching<T>(_ body: () throws -> T) rethrows -> T {
        do { return try body() } catch { note(error); throw error }
    }

    private func watching<T>(_ body: () async throws -> T) async rethrows -> T {
        do { return try await body() } catch { note(error); throw error }
    }

    /// `PRAGMA quick_check` for at most `budget`, on a connection of its own: the bounded check
    /// `serve` runs at start. Damage found is remembered as if a statement had met it. Returns
    /// nil when the file is sound or the budget ran out first (a large file is then checked
    /// only as far as it got; statements still catch damage where they meet it).
    func quickCheck(budget: Duration) -> String? {
        var config = Configuration()
        config.readonly = true
        config.busyMode = .timeout(options.busyTimeout)
        guard let queue = try? DatabaseQueue(path: path, configuration: config) else { return corruptionFound }
        let deadline = DispatchWorkItem { queue.interrupt() }
        DispatchQueue.global().asyncAfter(deadline: .now() + .nanoseconds(Int(budget.components.seconds * 1_000_000_000
            + budget.components.attoseconds / 1_000_000_000)), execute: deadline)
        defer { deadline.cancel(); try? queue.close() }
        do {
            let lines = try queue.read { db in try String.fetchAll(db, sql: "PRAGMA quick_check(5)") }
            if lines != ["ok"] {
                corruption.withLock { $0 = $0 ?? lines.prefix(2).joined(separator: "; ") }
            }
        } catch let error as DatabaseError where error.resultCode == .SQLITE_INTERRUPT {
            // Out of budget: checked as far as it got.
        } catch {
            note(error)
        }
        return corruptionFound
    }

    /// "locked by pid 4121 (waited 5 s)": the sentence for an SQLITE_BUSY met after opening.
    func lockedMessage() -> String {
        DatabaseOpenError.locked(path: path, seconds: options.busyTimeout, holders: LockHolders.writers(of: path)).description
    }

    /// Current pragmas, for `gatehouse init` and the tests.
    func pragmas() throws -> [String: String] {
        // The writer connection: synchronous is a per-connection setting, set on the writer.
        try coalescer.outside { try pool.writeWithoutTransaction { db in
            var result: [String: String] = [:]
            for name in ["journal_mode", "synchronous", "foreign_keys"] {
                result[name] = try String.fetchOne(db, sql: "PRAGMA \(name)")
            }
            // A busy handler of ours, not SQLite's busy_timeout (which would read 0): its bound.
            result["busy_timeout"] = String(Int(options.busyTimeout * 1000))
            return result
        } }
    }

    /// Checkpoints the WAL into the main file and closes every connection; later calls fail.
    ///
    /// The explicit checkpoint matters: SQLite checkpoints on the last close only when that
    /// connection can write, and a pool's readers are read-only, so without it the file alone
    /// (copied after a clean shutdown) would miss everything still in `-wal`.
    func close() throws {
        if !options.readOnly {
            // Another process may hold readers open; then the checkpoint is partial, which is fine.
            // Bounded: a shutdown must not add a full lock wait after a request's own.
            _ = try? coalescer.outside {
                try pool.writeWithoutTransaction { db in
                    WALCheckpoints.uninstall(from: db)      // its owner may go before the pool
                    try lockWait.withDeadline(.now + .seconds(1)) { try db.checkpoint(.truncate) }
                }
            }
        }
        inline?.close()
        try pool.close()
    }
}
