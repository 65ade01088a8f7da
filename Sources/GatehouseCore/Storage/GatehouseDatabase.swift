import Foundation
import GRDB

/// How a database file is opened.
public struct DatabaseOptions: Sendable {
    /// `FULL` survives power loss at the cost of one extra fsync per commit; `NORMAL` (the
    /// default) is durable across process crashes, which is what WAL mode needs for an auth store.
    public enum Synchronous: String, Sendable { case normal = "NORMAL", full = "FULL" }

    public var readOnly = false
    /// Create the file (mode 0600) and its schema when it does not exist. Only `init`, the demo
    /// and the server set this: a typo in `--db` must not silently start an empty database.
    public var createIfMissing = false
    public var synchronous: Synchronous = .normal
    /// How long a writer waits for another process's write lock before giving up.
    public var busyTimeout: TimeInterval = 5

    public init(readOnly: Bool = false, createIfMissing: Bool = false,
                synchronous: Synchronous = .normal, busyTimeout: TimeInterval = 5) {
        self.readOnly = readOnly
        self.createIfMissing = createIfMissing
        self.synchronous = synchronous
        self.busyTimeout = busyTimeout
    }
}

/// The one SQLite file that the server, the console and the CLI share.
///
/// WAL mode lets readers (the console) run beside the writer (the server) in other processes;
/// every write transaction is `BEGIN IMMEDIATE`, so read-modify-write sequences such as a
/// rate-limit check or a token rotation are atomic across processes.
public final class GatehouseDatabase: Sendable {
    public let path: String
    public let options: DatabaseOptions
    let pool: DatabasePool
    private let coalescer: WriteCoalescer

    private init(path: String, options: DatabaseOptions, pool: DatabasePool) {
        self.path = path
        self.options = options
        self.pool = pool
        coalescer = WriteCoalescer(pool: pool)
    }

    public static func open(path: String, options: DatabaseOptions = .init()) throws(DatabaseOpenError) -> GatehouseDatabase {
        let fileManager = FileManager.default
        if !fileManager.fileExists(atPath: path) {
            guard options.createIfMissing, !options.readOnly else { throw .missing(path: path) }
            // Created here rather than by SQLite so that the mode is 0600 from the first byte;
            // SQLite gives the -wal and -shm files the same mode as the main file.
            guard fileManager.createFile(atPath: path, contents: nil, attributes: [.posixPermissions: 0o600]) else {
                throw .other(path: path, message: "cannot create the file (does the folder exist and is it writable?)")
            }
        }

        var config = Configuration()
        config.readonly = options.readOnly
        config.busyMode = .timeout(options.busyTimeout)
        config.foreignKeysEnabled = true
        config.prepareDatabase { db in db.add(function: TextMatchFunction.function) }

        let pool: DatabasePool
        do {
            pool = try DatabasePool(path: path, configuration: config)
            if !options.readOnly {
                // GRDB sets NORMAL when it enables WAL, after any prepareDatabase hook; the pool
                // keeps this one writer connection, so setting it here lasts.
                try pool.writeWithoutTransaction { db in
                    try db.execute(sql: "PRAGMA synchronous = \(options.synchronous.rawValue)")
                }
            }
            try prepareSchema(pool, path: path, options: options)
        } catch let error as DatabaseOpenError {
            throw error
        } catch {
            throw classify(error, path: path, options: options)
        }
        return GatehouseDatabase(path: path, options: options, pool: pool)
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
        if status.superseded { throw DatabaseOpenError.newerSchema(path: path, unknownMigrations: status.unknown) }
        if status.complete { return }
        if options.readOnly { throw DatabaseOpenError.readOnlyNeedsMigration(path: path) }
        try migrator.migrate(pool)
    }

    private static func classify(_ error: any Error, path: String, options: DatabaseOptions) -> DatabaseOpenError {
        guard let dbError = error as? DatabaseError else {
            return .other(path: path, message: "\(error)")
        }
        switch dbError.resultCode {
        case .SQLITE_NOTADB, .SQLITE_CORRUPT:
            return .notADatabase(path: path)
        case .SQLITE_BUSY, .SQLITE_LOCKED:
            return .locked(path: path, seconds: options.busyTimeout, holders: LockHolders.writers(of: path))
        case .SQLITE_PERM, .SQLITE_READONLY, .SQLITE_AUTH:
            return .permissionDenied(path: path)
        case .SQLITE_CANTOPEN:
            return .other(path: path, message: "SQLite cannot open the file (\(dbError.message ?? "no detail"))")
        default:
            return .other(path: path, message: dbError.message ?? "\(dbError)")
        }
    }

    // MARK: - Access for the services

    /// Runs `body` atomically in a `BEGIN IMMEDIATE` transaction, possibly shared with other
    /// writes that arrived at the same moment (group commit; see `WriteCoalescer`): `body`
    /// commits or rolls back alone, and returns only after the commit.
    @discardableResult
    func write<T: Sendable>(_ body: @escaping @Sendable (Database) throws -> T) async throws -> T {
        try await coalescer.write(body)
    }

    /// Runs `body` on a read-only snapshot; never blocks writers.
    func read<T: Sendable>(_ body: @escaping @Sendable (Database) throws -> T) async throws -> T {
        try await pool.read(body)
    }

    /// Write requests and the transactions they shared since this process opened the file.
    public var writeStatistics: WriteStatistics { coalescer.statistics }

    func writeSync<T>(_ body: (Database) throws -> T) throws -> T {
        try pool.write(body)
    }

    /// The writer connection outside a transaction (for pragmas that refuse to run in one).
    func writeWithoutTransactionSync<T>(_ body: (Database) throws -> T) throws -> T {
        try pool.writeWithoutTransaction(body)
    }

    func readSync<T>(_ body: (Database) throws -> T) throws -> T {
        try pool.read(body)
    }

    /// Processes other than this one holding a write lock on the file right now (Linux only),
    /// for messages such as "database is locked by pid 4121".
    public func lockHolders() -> [Int32] { LockHolders.writers(of: path) }

    /// "locked by pid 4121 (waited 5 s)": the sentence for an SQLITE_BUSY met after opening.
    public func lockedMessage() -> String {
        DatabaseOpenError.locked(path: path, seconds: options.busyTimeout, holders: lockHolders()).description
    }

    /// One sentence for an error met while using this database: what the CLI prints and the
    /// console's status line shows, never a stack trace.
    public func explain(_ error: any Error) -> String {
        switch error {
        case let error as AuthError: return error.description
        case let error as DatabaseOpenError: return error.description
        case let error as DatabaseError:
            switch error.resultCode {
            case .SQLITE_BUSY, .SQLITE_LOCKED: return lockedMessage() + "; nothing was changed, try again"
            case .SQLITE_FULL: return "the disk is full; nothing was changed"
            case .SQLITE_READONLY: return "the database is read-only here"
            case .SQLITE_CORRUPT, .SQLITE_NOTADB: return DatabaseOpenError.notADatabase(path: path).description
            default: return "database error: \(error.message ?? error.description)"
            }
        default:
            return "\(error)".split(separator: "\n").first.map(String.init) ?? "error"
        }
    }

    /// The newest applied migration (`v3-jobs`): what `/healthz` reports, and a read that
    /// proves the file is still readable.
    public func schemaVersion() async throws -> String? {
        try await read { db in try Schema.migrator.appliedMigrations(db).last }
    }

    /// Current pragmas, for `gatehouse init` and the tests.
    public func pragmas() throws -> [String: String] {
        // The writer connection: synchronous is a per-connection setting, set on the writer.
        try pool.writeWithoutTransaction { db in
            var result: [String: String] = [:]
            for name in ["journal_mode", "synchronous", "foreign_keys", "busy_timeout"] {
                result[name] = try String.fetchOne(db, sql: "PRAGMA \(name)")
            }
            return result
        }
    }

    /// Checkpoints the WAL into the main file and closes every connection; later calls fail.
    ///
    /// The explicit checkpoint matters: SQLite checkpoints on the last close only when that
    /// connection can write, and a pool's readers are read-only, so without it the file alone
    /// (copied after a clean shutdown) would miss everything still in `-wal`.
    public func close() throws {
        if !options.readOnly {
            // Another process may hold readers open; then the checkpoint is partial, which is fine.
            _ = try? pool.writeWithoutTransaction { db in try db.checkpoint(.truncate) }
        }
        try pool.close()
    }
}
