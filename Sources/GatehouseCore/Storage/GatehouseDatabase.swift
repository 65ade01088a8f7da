import Foundation

/// How a database file is opened.
public struct DatabaseOptions: Sendable {
    /// `FULL` survives power loss at the cost of one extra fsync per commit; `NORMAL` (the
    /// default) is durable across process crashes, which is what WAL mode needs for an auth store.
    public enum Synchronous: String, Sendable { case normal = "NORMAL", full = "FULL" }

    public var readOnly = false
    /// Create the file (mode 0600) and its schema when it is missing or empty, and upgrade an
    /// older schema. Only `init`, `serve` and the demo (its own scratch database) set this: a
    /// typo in `--db` must not silently start an empty database, nor a CLI command migrate.
    public var createIfMissing = false
    public var synchronous: Synchronous = .normal
    /// How long a write waits for another process's write lock before giving up, counted from
    /// when the request arrived (group commit included; see `LockWait`).
    public var busyTimeout: TimeInterval = 5
    /// PostgreSQL: how long a transaction waits for a pooled connection (every connection
    /// busy, the server restarting or gone) before giving up with `StorageFault.unavailable`,
    /// which the API answers 503 with Retry-After rather than leaving the request hanging.
    public var connectionWait: TimeInterval = 5
    /// The waits an operator may set (`serve --db-wait`), in seconds.
    public static let waitRange: ClosedRange<TimeInterval> = 0.1...600
    /// SQLite: read connections the pool may open at once, each with its own page cache (up to
    /// 2 MB). A server wants several; the console, one person's reads, does with two and keeps
    /// its memory small.
    public var maximumReaders = 5
    /// SQLite: each connection's page cache in KiB (`PRAGMA cache_size`); nil keeps SQLite's 2,000.
    public var pageCacheKiB: Int?

    /// What the console opens: two readers with 512 KiB of page cache each. Its reads are
    /// keyset windows of a screenful, a handful of pages; the memory is one person's terminal's.
    public static func console(readOnly: Bool) -> DatabaseOptions {
        var options = DatabaseOptions(readOnly: readOnly)
        options.maximumReaders = 2
        options.pageCacheKiB = 512
        return options
    }

    public init(readOnly: Bool = false, createIfMissing: Bool = false,
                synchronous: Synchronous = .normal, busyTimeout: TimeInterval = 5, connectionWait: TimeInterval = 5) {
        self.readOnly = readOnly
        self.createIfMissing = createIfMissing
        self.synchronous = synchronous
        self.busyTimeout = busyTimeout
        self.connectionWait = connectionWait
    }
}

/// The storage that the server, the console and the CLI share: one SQLite file (the default,
/// one host) or a PostgreSQL database (several nodes), chosen by what `--db` names
/// (`DatabaseLocation`). The services only see transactions through the seam
/// (`SQLTransaction`, docs/engines.md); everything engine-specific stays behind this type.
public final class GatehouseDatabase: Sendable {
    /// What `--db` named, as messages show it: the file path, or the PostgreSQL URL without
    /// its password.
    public let path: String
    public let options: DatabaseOptions
    let engine: Engine

    enum Engine: Sendable {
        case sqlite(SQLiteEngine)
        case postgres(PostgresEngine)
    }

    private init(path: String, options: DatabaseOptions, engine: Engine) {
        self.path = path
        self.options = options
        self.engine = engine
    }

    /// Opens what `path` names: a file path (SQLite) or a `postgres://` URL.
    /// - Throws: `DatabaseOpenError` with a sentence an operator can act on.
    public static func open(path: String, options: DatabaseOptions = .init()) throws(DatabaseOpenError) -> GatehouseDatabase {
        let location: DatabaseLocation
        do { location = try DatabaseLocation(path) } catch { throw .invalidLocation(error.description) }
        switch location {
        case .sqlite:
            return GatehouseDatabase(path: path, options: options, engine: .sqlite(try SQLiteEngine.open(path: path, options: options)))
        case .postgres(let postgres):
            return GatehouseDatabase(path: postgres.redacted, options: options,
                                     engine: .postgres(try PostgresEngine.open(postgres, options: options)))
        }
    }

    /// The SQL spoken by this database's engine (docs/engines.md).
    public var dialect: SQLDialect {
        switch engine {
        case .sqlite: .sqlite
        case .postgres: .postgres
        }
    }

    /// True when this open created the database (SQLite: the file; PostgreSQL: the schema).
    public var created: Bool {
        switch engine {
        case .sqlite(let sqlite): sqlite.created
        case .postgres(let postgres): postgres.created
        }
    }

    /// One line naming the engine and its settings, for `init` and `serve`:
    /// `journal_mode=wal` or `PostgreSQL 15.18`.
    public func engineSummary() -> String {
        guard let settings = try? pragmas() else { return dialect == .sqlite ? "SQLite" : "PostgreSQL" }
        switch engine {
        case .sqlite: return "journal_mode=\(settings["journal_mode"] ?? "?")"
        case .postgres: return "PostgreSQL \(settings["server_version"]?.split(separator: " ").first.map(String.init) ?? "?")"
        }
    }

    /// What opening changed that the operator should hear (permissions tightened).
    public var openingNotes: [String] {
        switch engine {
        case .sqlite(let sqlite): sqlite.openingNotes
        case .postgres: []
        }
    }

    // MARK: - Access for the services

    /// Runs `body` atomically in a write transaction and returns after the commit. SQLite: a
    /// `BEGIN IMMEDIATE` transaction (group commit, or on the calling thread while writes come
    /// one at a time: `WriteCoalescer`). PostgreSQL: READ COMMITTED, the rules taking the row
    /// locks they need; serialization failures and deadlocks retried a bounded number of times.
    /// Either engine may run `body` more than once (a retry, an inline write declined halfway),
    /// each run rolled back but the last: it must act only through the transaction.
    @discardableResult
    func write<T: Sendable>(_ body: @escaping @Sendable (any SQLTransaction) throws -> T) async throws -> T {
        switch engine {
        case .sqlite(let sqlite): try await sqlite.write(body)
        case .postgres(let postgres): try await postgres.write(body)
        }
    }

    /// Runs `body` on a read-only snapshot; never blocks writers. Public so that the bench can
    /// measure the storage layer's point reads through it against SQLite's C API.
    public func read<T: Sendable>(_ body: @escaping @Sendable (any SQLTransaction) throws -> T) async throws -> T {
        switch engine {
        case .sqlite(let sqlite): try await sqlite.read(body)
        case .postgres(let postgres): try await postgres.read(body)
        }
    }

    /// `read` for a lookup by key (a session by its secret's hash): on SQLite it runs on the
    /// calling thread while it stays a point read, without the two thread hand-offs of a
    /// queued read, and falls back to `read` otherwise (`InlineReaders`). `body` may run twice,
    /// so it must only read and return. PostgreSQL: `read`.
    public func pointRead<T: Sendable>(_ body: @escaping @Sendable (any SQLTransaction) throws -> T) async throws -> T {
        switch engine {
        case .sqlite(let sqlite): try await sqlite.pointRead(body)
        case .postgres(let postgres): try await postgres.read(body)
        }
    }

    /// `write` for callers that cannot wait asynchronously (opening the service, the bench).
    func writeSync<T>(_ body: (any SQLTransaction) throws -> T) throws -> T {
        switch engine {
        case .sqlite(let sqlite): try sqlite.writeSync(body)
        case .postgres(let postgres): try postgres.writeSync(body)
        }
    }

    func readSync<T>(_ body: (any SQLTransaction) throws -> T) throws -> T {
        switch engine {
        case .sqlite(let sqlite): try sqlite.readSync(body)
        case .postgres(let postgres): try postgres.readSync(body)
        }
    }

    /// Write requests and the transactions they shared since this process opened the database
    /// (SQLite's group commit; on PostgreSQL each write is its own transaction).
    public var writeStatistics: WriteStatistics {
        switch engine {
        case .sqlite(let sqlite): sqlite.writeStatistics
        case .postgres(let postgres): postgres.writeStatistics
        }
    }

    /// For bulk loads of generated data (the bench, the demo): SQLite commits stop waiting for
    /// the disk until `restoreDurability`. (PostgreSQL: nothing; its batches are large.)
    func relaxDurability() throws {
        guard case .sqlite(let sqlite) = engine else { return }
        try sqlite.writeWithoutTransaction { db in try db.execute(sql: "PRAGMA synchronous = OFF") }
    }

    func restoreDurability() {
        guard case .sqlite(let sqlite) = engine else { return }
        _ = try? sqlite.writeWithoutTransaction { db in try db.execute(sql: "PRAGMA synchronous = \(options.synchronous.rawValue)") }
    }

    // MARK: - Health

    /// SQLite's words for damage found in the file since this process opened it; nil while none
    /// was (and always on PostgreSQL, whose server guards its own pages). `/healthz` answers 503.
    public var corruptionFound: String? {
        switch engine {
        case .sqlite(let sqlite): sqlite.corruptionFound
        case .postgres: nil
        }
    }

    /// SQLite: `PRAGMA quick_check` for at most `budget` (the bounded check `serve` runs at
    /// start); returns the damage found, or nil. PostgreSQL: nil.
    @discardableResult
    public func quickCheck(budget: Duration = .seconds(2)) -> String? {
        switch engine {
        case .sqlite(let sqlite): sqlite.quickCheck(budget: budget)
        case .postgres: nil
        }
    }

    /// One sentence for an error met while using this database: what the CLI prints and the
    /// console's status line shows, never a stack trace.
    public func explain(_ error: any Error) -> String {
        switch error {
        case let error as AuthError: return error.description
        case let error as DatabaseOpenError: return error.description
        default:
            if case .sqlite(let sqlite) = engine, StorageFault.classify(error) == .busy {
                return sqlite.lockedMessage() + "; nothing was changed, try again"
            }
            if let fault = StorageFault.classify(error) { return fault.sentence(location: path) }
            if let why = StorageFault.refusedRegularExpression(error) {
                return "the filter is not a regular expression PostgreSQL can run (\(why)); ICU-only syntax such as \\p{L} or a possessive quantifier has no equivalent there"
            }
            if let description = PostgresServer.serverMessage(error) { return "database error: \(description)" }
            return "\(error)".split(separator: "\n").first.map(String.init) ?? "error"
        }
    }

    /// The newest applied migration (`v3-jobs`): what `/healthz` reports, and a read that
    /// proves the database is still reachable.
    public func schemaVersion() async throws -> String? {
        switch engine {
        case .sqlite(let sqlite): try await sqlite.schemaVersion()
        case .postgres(let postgres): try await postgres.schemaVersion()
        }
    }

    /// SQLite's pragmas (`init` prints them, the tests check them); PostgreSQL's equivalents
    /// (`server_version`, `synchronous_commit`, `default_transaction_isolation`).
    public func pragmas() throws -> [String: String] {
        switch engine {
        case .sqlite(let sqlite): try sqlite.pragmas()
        case .postgres(let postgres): try postgres.settings()
        }
    }

    /// SQLite: checkpoints the WAL into the main file and closes every connection.
    /// PostgreSQL: closes the pool. Later calls fail.
    public func close() throws {
        switch engine {
        case .sqlite(let sqlite): try sqlite.close()
        case .postgres(let postgres): postgres.close()
        }
    }
}
