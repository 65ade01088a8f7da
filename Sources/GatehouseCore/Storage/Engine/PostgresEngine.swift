import Foundation
import Logging
import NIOCore
import NIOPosix
import NIOSSL
import PostgresNIO
import Synchronization

/// The PostgreSQL side of the seam (docs/engines.md): a pool (`PostgresClient`) and
/// transactions whose synchronous bodies (the rules, written once over `SQLTransaction`) run on
/// NIO's blocking thread pool, each statement waited for there, never on an event loop.
///
/// Writes run at READ COMMITTED; the rules take the row locks they need. Serialization failures
/// (40001) and deadlocks (40P01) are retried up to three times, then surface as
/// `StorageFault.busy` (a 503). Reads run at REPEATABLE READ, READ ONLY: one snapshot per
/// read, as SQLite's WAL readers have.
public final class PostgresEngine: Sendable {
    public let location: PostgresLocation
    let options: DatabaseOptions
    private let client: PostgresClient
    private let runner: Task<Void, Never>
    /// One thread per pooled connection: a transaction's body blocks its thread on each
    /// statement, so with fewer threads leased connections would sit idle waiting for one.
    private let threads: NIOThreadPool
    /// The pool's own log (connection attempts and failures) stays below warnings: what a
    /// caller meets surfaces as its error (`StorageFault`), once, in the caller's words.
    private let logger: Logger = {
        var logger = Logger(label: "gatehouse.postgres")
        logger.logLevel = .error
        return logger
    }()
    private let createdSchema = Mutex(false)
    private let writes = Mutex(0)

    /// Write transactions since this process opened the database (each its own transaction).
    var writeStatistics: WriteStatistics {
        let count = writes.withLock { $0 }
        return WriteStatistics(transactions: count, requests: count)
    }

    /// True when this open created the schema (the database had none).
    var created: Bool { createdSchema.withLock { $0 } }

    /// How long a transaction waits for a pooled connection (the server restarting, every
    /// connection busy) before the request is answered 503 rather than left hanging.
    static let leaseTimeout: Duration = .seconds(5)
    /// A statement running longer is cancelled by the server (57014 → a 503).
    static let statementTimeout = "30s"

    /// Sent with every connection: the server enforces them.
    static let startupParameters = [
        ("statement_timeout", statementTimeout),
        // A transaction left open by a stuck process must not hold its row locks forever.
        ("idle_in_transaction_session_timeout", "60s"),
        ("application_name", "gatehouse"),
    ]

    public init(_ location: PostgresLocation, options: DatabaseOptions = .init(), connections: Int = 8) throws {
        self.location = location
        self.options = options
        var configuration: PostgresClient.Configuration
        if location.isUnixSocket {
            configuration = .init(unixSocketPath: location.unixSocketPath, username: location.user, password: location.password,
                                  database: location.database)
        } else {
            configuration = .init(host: location.host, port: location.port, username: location.user, password: location.password,
                                  database: location.database, tls: Self.tls(location.sslMode))
        }
        configuration.options.maximumConnections = connections
        configuration.options.connectTimeout = .seconds(5)
        configuration.options.additionalStartupParameters = Self.startupParameters
        let client = PostgresClient(configuration: configuration, backgroundLogger: logger)
        self.client = client
        threads = NIOThreadPool(numberOfThreads: connections)
        threads.start()
        runner = Task { await client.run() }
    }

    /// Connects (a probe first, for a sentence per fault), then checks the schema: creates or
    /// upgrades it when `options.createIfMissing` (init, serve, demo), refuses otherwise as for
    /// SQLite (missing schema, older or newer schema, another application's database).
    static func open(_ location: PostgresLocation, options: DatabaseOptions) throws(DatabaseOpenError) -> PostgresEngine {
        let engine: PostgresEngine
        do { engine = try PostgresEngine(location, options: options) } catch {
            throw .postgres(location: location.redacted, problem: PostgresProbe.describe(error, location))
        }
        do {
            try engine.prepareSchema()
            return engine
        } catch {
            engine.close()
            if let error = error as? DatabaseOpenError { throw error }
            throw .postgres(location: location.redacted, problem: PostgresProbe.describe(error, location))
        }
    }

    private func prepareSchema() throws {
        let name = location.redacted
        let known = PostgresSchema.migrations.map(\.identifier)
        let status = try readSync { tx -> (applied: [String], tables: Int) in
            let tables = try tx.fetchScalar(Int64.self, """
                SELECT count(*) FROM information_schema.tables WHERE table_schema = current_schema()
                """) ?? 0
            let hasMigrations = try tx.fetchScalar(Int64.self, """
                SELECT count(*) FROM information_schema.tables WHERE table_schema = current_schema() AND table_name = 'gatehouse_migrations'
                """) ?? 0
            guard hasMigrations > 0 else { return ([], Int(tables)) }
            return (try tx.fetchColumn(String.self, "SELECT identifier FROM gatehouse_migrations"), Int(tables))
        }
        if status.applied.isEmpty && status.tables > 0 { throw DatabaseOpenError.notAGatehouseDatabase(path: name) }
        let unknown = Set(status.applied).subtracting(known).sorted()
        if !unknown.isEmpty { throw DatabaseOpenError.newerSchema(path: name, unknownMigrations: unknown) }
        if Set(status.applied) == Set(known) { return }
        if !options.createIfMissing || options.readOnly {
            throw status.applied.isEmpty ? DatabaseOpenError.empty(path: name) : DatabaseOpenError.needsUpgrade(path: name)
        }
        createdSchema.withLock { $0 = status.applied.isEmpty }
        try writeSync { tx in
            // Two processes starting at once: one migrates, the other waits here and finds it done.
            _ = try tx.fetchOne("SELECT pg_advisory_xact_lock(?)", [PostgresSchema.migrationLock])
            try tx.execute(PostgresSchema.migrationsTable)
            let applied = Set(try tx.fetchColumn(String.self, "SELECT identifier FROM gatehouse_migrations"))
            for migration in PostgresSchema.migrations where !applied.contains(migration.identifier) {
                try tx.executeScript(migration.sql)
                try tx.execute("INSERT INTO gatehouse_migrations (identifier, applied_at) VALUES (?, ?)",
                               [migration.identifier, Date().timeIntervalSince1970])
            }
        }
    }

    /// The pool's TLS for libpq's `sslmode`.
    static func tls(_ mode: PostgresLocation.SSLMode) -> PostgresClient.Configuration.TLS {
        guard let (configuration, required) = mode.tls else { return .disable }
        return required ? .require(configuration) : .prefer(configuration)
    }

    // MARK: - Transactions

    /// Runs `body` in one transaction (READ COMMITTED; the rules take row locks where they
    /// need them) and commits; rolls back on a throw.
    public func write<T: Sendable>(_ body: @escaping @Sendable (any SQLTransaction) throws -> T) async throws -> T {
        let begin = Self.writeBegin(readOnly: options.readOnly)
        writes.withLock { $0 += 1 }
        var attempt = 1
        while true {
            do {
                return try await transaction(begin: begin, body)
            } catch let error as PSQLError where attempt < 3 && ["40001", "40P01"].contains(error.serverInfo?[.sqlState] ?? "") {
                attempt += 1
            }
        }
    }

    /// READ COMMITTED whatever the server's, database's or role's default: the rules rely on a
    /// fresh snapshot per statement and on a row being re-read after its lock was waited for.
    static func writeBegin(readOnly: Bool) -> String {
        "BEGIN ISOLATION LEVEL READ COMMITTED" + (readOnly ? " READ ONLY" : "")
    }

    /// Runs `body` on one snapshot (REPEATABLE READ, READ ONLY).
    public func read<T: Sendable>(_ body: @escaping @Sendable (any SQLTransaction) throws -> T) async throws -> T {
        try await transaction(begin: "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", body)
    }

    private func transaction<T: Sendable>(begin: String, _ body: @escaping @Sendable (any SQLTransaction) throws -> T) async throws -> T {
        try await withLeaseTimeout { leased in
            try await self.client.withConnection { connection in
                // Too late: the caller was already answered 503; the body must not run and commit.
                guard leased.claim() else { throw PostgresUnavailable(location: self.location.redacted) }
                return try await self.threads.runIfActive { [logger = self.logger] in
                    try Self.transaction(on: connection, logger: logger, begin: begin, body)
                }
            }
        }
    }

    /// One transaction on `connection`, on the calling thread (never an event loop): `begin`,
    /// the body, the work it left for `beforeCommit`, COMMIT; ROLLBACK when anything throws.
    private static func transaction<T>(on connection: PostgresConnection, logger: Logger, begin: String,
                                       _ body: (any SQLTransaction) throws -> T) throws -> T {
        let transaction = PostgresTransaction(connection: connection, logger: logger)
        try transaction.execute(begin)
        do {
            let value = try body(transaction)
            try transaction.runBeforeCommit()
            try transaction.execute("COMMIT")
            return value
        } catch {
            _ = try? transaction.execute("ROLLBACK")
            throw error
        }
    }

    /// Runs `operation`, which must call `leased.claim()` once it holds a pooled connection (and
    /// give up when that returns false);
    /// gives up with `PostgresUnavailable` when that has not happened within `leaseTimeout`
    /// (the server is down or restarting and the pool keeps trying to connect: a request must
    /// not wait for that). Once leased, the transaction runs to its end, however long.
    private func withLeaseTimeout<T: Sendable>(_ operation: @escaping @Sendable (Flag) async throws -> T) async throws -> T {
        let leased = Flag()
        return try await withThrowingTaskGroup(of: Outcome<T>.self) { group in
            group.addTask { .done(try await operation(leased)) }
            group.addTask {
                try? await Task.sleep(for: Self.leaseTimeout)
                return leased.abandon() ? .timedOut : .stillRunning
            }
            defer { group.cancelAll() }
            while let outcome = try await group.next() {
                switch outcome {
                case .done(let value): return value
                case .timedOut: throw PostgresUnavailable(location: location.redacted)
                case .stillRunning: continue
                }
            }
            throw CancellationError()
        }
    }

    private enum Outcome<T: Sendable>: Sendable { case done(T), timedOut, stillRunning }

    /// Decided once, by whichever comes first: the lease (`claim`) or the timeout (`abandon`),
    /// so a transaction never commits after its caller was told it could not run.
    final class Flag: Sendable {
        private enum State { case waiting, leased, abandoned }
        private let state = Mutex(State.waiting)

        /// True when the lease came in time (the body may run).
        func claim() -> Bool {
            state.withLock { state in
                if state == .waiting { state = .leased }
                return state == .leased
            }
        }

        /// True when the timeout came first (the caller is answered 503).
        func abandon() -> Bool {
            state.withLock { state in
                if state == .waiting { state = .abandoned }
                return state == .abandoned
            }
        }
    }

    /// `write` for a caller that cannot wait asynchronously (opening, the bench's seeding):
    /// blocks this thread on a connection of its own, outside the pool. It never waits for the
    /// concurrency pool (whose threads may all be such callers), only for NIO's event loops;
    /// never call it on an event loop.
    func writeSync<T>(_ body: (any SQLTransaction) throws -> T) throws -> T {
        let begin = Self.writeBegin(readOnly: options.readOnly)
        return try withConnectionOfItsOwn { connection in
            var attempt = 1
            while true {
                do {
                    return try Self.transaction(on: connection, logger: logger, begin: begin, body)
                } catch let error as PSQLError where attempt < 3 && ["40001", "40P01"].contains(error.serverInfo?[.sqlState] ?? "") {
                    attempt += 1
                }
            }
        }
    }

    func readSync<T>(_ body: (any SQLTransaction) throws -> T) throws -> T {
        try withConnectionOfItsOwn { connection in
            try Self.transaction(on: connection, logger: logger, begin: "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", body)
        }
    }

    /// The connection that synchronous callers share, one at a time (opened at first use,
    /// opened again after it was lost): outside the pool, so it never waits on the pool's tasks.
    private let syncConnection = Mutex<PostgresConnection?>(nil)

    private func withConnectionOfItsOwn<T>(_ body: (PostgresConnection) throws -> T) throws -> T {
        try syncConnection.withLock { held in
            if held == nil || held!.isClosed {
                var configuration = try PostgresProbe.configuration(location)
                configuration.options.additionalStartupParameters = Self.startupParameters
                held = try PostgresConnection.connect(on: MultiThreadedEventLoopGroup.singleton.any(), configuration: configuration,
                                                      id: 0, logger: logger).wait()
            }
            return try body(held!)
        }
    }

    // MARK: - Facts

    func schemaVersion() async throws -> String? {
        try await read { tx in
            try tx.fetchScalar(String.self, "SELECT identifier FROM gatehouse_migrations ORDER BY identifier DESC LIMIT 1")
        }
    }

    /// The server's settings that matter to an operator (what `init` prints beside SQLite's pragmas).
    func settings() throws -> [String: String] {
        try readSync { tx in
            var result: [String: String] = [:]
            for name in ["server_version", "synchronous_commit", "default_transaction_isolation", "statement_timeout"] {
                result[name] = try tx.fetchScalar(String.self, "SELECT current_setting(CAST(? AS text))", [name])
            }
            return result
        }
    }

    /// The server's own message for a PostgreSQL error, or nil for another error.
    static func describe(_ error: any Error) -> String? {
        guard let error = error as? PSQLError else { return nil }
        if let message = error.serverInfo?[.message] { return "\(message) (SQLSTATE \(error.serverInfo?[.sqlState] ?? "?"))" }
        return "\(error.code)"
    }

    /// Stops the pool: its connections close.
    public func close() {
        runner.cancel()
        threads.shutdownGracefully { _ in }
        syncConnection.withLock { held in
            _ = try? held?.close().wait()
            held = nil
        }
    }

    deinit {
        runner.cancel()
        threads.shutdownGracefully { _ in }
        // Kept alive by the callback until closed (a connection must not end its life open).
        syncConnection.withLock { held in
            let connection = held
            connection?.close().whenComplete { _ in _ = connection }
        }
    }
}

/// No pooled connection came within `PostgresEngine.leaseTimeout`: the server is down,
/// restarting, or every connection is busy.
struct PostgresUnavailable: Error, CustomStringConvertible {
    var location: String
    var description: String { "no connection to \(location) within \(PostgresEngine.leaseTimeout)" }
}

/// `SQLTransaction` over one leased connection, for a body on a thread of its own.
struct PostgresTransaction: SQLTransaction {
    let connection: PostgresConnection
    let logger: Logger
    private let pending = PendingWork()
    var dialect: SQLDialect { .postgres }

    /// Work registered with `beforeCommit`, in order; used on the transaction's one thread.
    private final class PendingWork {
        var items: [(any SQLTransaction) throws -> Void] = []
    }

    init(connection: PostgresConnection, logger: Logger) {
        self.connection = connection
        self.logger = logger
    }

    func beforeCommit(_ work: @escaping (any SQLTransaction) throws -> Void) throws {
        pending.items.append(work)
    }

    /// Runs what `beforeCommit` registered (work may register more; that runs too).
    func runBeforeCommit() throws {
        while !pending.items.isEmpty {
            let work = pending.items.removeFirst()
            try work(self)
        }
    }

    @discardableResult
    func execute(_ sql: String, _ arguments: SQLArguments) throws -> Int {
        try run(sql, arguments).metadata.rows ?? 0
    }

    func fetchAll(_ sql: String, _ arguments: SQLArguments) throws -> [SQLRow] {
        let result = try run(sql, arguments)
        var columns: SQLColumns?
        return try result.rows.map { row in
            let names = columns ?? SQLColumns(row.map(\.columnName))
            columns = names
            return SQLRow(columns: names, values: try row.map { cell in try Self.value(cell) })
        }
    }

    func fetchOne(_ sql: String, _ arguments: SQLArguments) throws -> SQLRow? {
        try fetchAll(sql, arguments).first
    }


    private func run(_ sql: String, _ arguments: SQLArguments) throws -> PostgresQueryResult {
        var binds = PostgresBindings(capacity: arguments.values.count)
        for argument in arguments.values {
            switch argument {
            case .null: binds.appendNull()
            case .int(let number): binds.append(number)
            case .double(let number): binds.append(number)
            case .text(let text): binds.append(text)
            case .blob(let bytes): binds.append(ByteBuffer(bytes: bytes))
            }
        }
        return try connection.query(PostgresQuery(unsafeSQL: dialect.render(sql), binds: binds), logger: logger).wait()
    }

    private static func value(_ cell: PostgresCell) throws -> SQLValue {
        guard cell.bytes != nil else { return .null }
        switch cell.dataType {
        case .int2, .int4, .int8: return .int(try cell.decode(Int64.self))
        case .float4, .float8: return .double(try cell.decode(Double.self))
        case .numeric:
            // sum() over bigint: whole numbers come back as integers, as SQLite's do.
            let number = try cell.decode(Decimal.self)
            var rounded = Decimal()
            var copy = number
            NSDecimalRound(&rounded, &copy, 0, .plain)
            if rounded == number, let whole = Int64(exactly: NSDecimalNumber(decimal: number).int64Value),
               Decimal(whole) == number { return .int(whole) }
            return .double(NSDecimalNumber(decimal: number).doubleValue)
        case .bytea: return .blob([UInt8](try cell.decode(ByteBuffer.self).readableBytesView))
        case .bool: return .int(try cell.decode(Bool.self) ? 1 : 0)
        default: return .text(try cell.decode(String.self))
        }
    }
}

extension SQLTransaction {
    /// Several statements separated by `;` (a migration), one at a time: the extended protocol
    /// that carries arguments takes one statement per message.
    func executeScript(_ sql: String) throws {
        for statement in PostgresSchema.statements(sql) { try execute(statement) }
    }
}

extension PostgresLocation.SSLMode {
    /// `sslmode` as libpq means it, in NIOSSL's terms: nil for `disable`; `allow` and `prefer`
    /// TLS when the server offers it, unverified; `require` TLS, unverified; `verify-ca` the
    /// chain; `verify-full` the chain and the host name. (A Unix socket never uses TLS.)
    var tls: (configuration: TLSConfiguration, required: Bool)? {
        var configuration = TLSConfiguration.makeClientConfiguration()
        switch self {
        case .disable: return nil
        case .allow, .prefer:
            configuration.certificateVerification = .none
            return (configuration, false)
        case .require:
            configuration.certificateVerification = .none
            return (configuration, true)
        case .verifyCA:
            configuration.certificateVerification = .noHostnameVerification
            return (configuration, true)
        case .verifyFull:
            return (configuration, true)
        }
    }
}
