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
/// (40001), deadlocks (40P01) and unique violations (23505) are retried up to three times, then surface as
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

    public init(_ location: PostgresLocation, options: DatabaseOptions = .init(), connections: Int = 8) throws {
        self.location = location
        self.options = options
        let client = PostgresClient(configuration: PostgresServer.poolConfiguration(location, connections: connections),
                                    backgroundLogger: logger)
        self.client = client
        threads = NIOThreadPool(numberOfThreads: connections)
        threads.start()
        runner = Task { await client.run() }
    }

    /// Connects, then checks the schema: creates or
    /// upgrades it when `options.createIfMissing` (init, serve, demo), refuses otherwise as for
    /// SQLite (missing schema, older or newer schema, another application's database).
    static func open(_ location: PostgresLocation, options: DatabaseOptions) throws(DatabaseOpenError) -> PostgresEngine {
        let engine: PostgresEngine
        do { engine = try PostgresEngine(location, options: options) } catch {
            throw .postgres(location: location.redacted, problem: PostgresServer.describe(error, location))
        }
        do {
            try engine.prepareSchema()
            return engine
        } catch {
            engine.close()
            if let error = error as? DatabaseOpenError { throw error }
            throw .postgres(location: location.redacted, problem: PostgresServer.describe(error, location))
        }
    }

    private func prepareSchema() throws {
        let name = location.redacted
        let known = PostgresSchema.migrations.map(\.identifier)
        let status = try readSync { tx -> (applied: [String], tables: Int) in
            let tables = try tx.fetchScalar(Int64.self, """
                SELECT count(*) FROM information_schema.tables WHERE table_schema = current_schema()
                """) ?? 0
            guard try tx.fetchScalar(Bool.self, tx.dialect.tableExists, ["gatehouse_migrations"]) == true else { return ([], Int(tables)) }
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
            try tx.execute(tx.dialect.advisoryLock(PostgresSchema.migrationLock))
            try tx.execute(PostgresSchema.migrationsTable)
            let applied = Set(try tx.fetchColumn(String.self, "SELECT identifier FROM gatehouse_migrations"))
            for migration in PostgresSchema.migrations where !applied.contains(migration.identifier) {
                try tx.executeScript(migration.sql)
                try tx.execute("INSERT INTO gatehouse_migrations (identifier, applied_at) VALUES (?, ?)",
                               [migration.identifier, Date().timeIntervalSince1970])
            }
        }
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
            } catch where Self.retries(error, attempt: attempt) {
                attempt += 1
            }
        }
    }

    /// Whether a write that failed with `error` on its `attempt`th try runs again, at most
    /// three tries in all: a serialization failure (40001), a deadlock (40P01), or a unique
    /// violation (23505). At READ COMMITTED a rule that checks, then writes, can lose to a
    /// transaction that commits the same key in between (its check could not see it yet); run
    /// again, the check sees the committed row and the rule answers as it always does (a job
    /// already queued, an address already known) instead of a raw constraint error.
    ///
    /// A request overtaken at a rate-limit bucket (`RateLimitOvertaken`) runs again too, up to
    /// ten tries: each overtaking means another request took a slot, and once the bucket is
    /// full the next run reads it so and is refused by the rule.
    private static func retries(_ error: any Error, attempt: Int) -> Bool {
        if error is RateLimitOvertaken { return attempt < 10 }
        guard attempt < 3, let error = error as? PSQLError else { return false }
        return ["40001", "40P01", "23505"].contains(error.serverInfo?[.sqlState] ?? "")
    }

    /// READ COMMITTED whatever the server's, database's or role's default: the rules rely on a
    /// fresh snapshot per statement and on a row being re-read after its lock was waited for.
    static func writeBegin(readOnly: Bool) -> String {
        "BEGIN ISOLATION LEVEL READ COMMITTED" + (readOnly ? " READ ONLY" : "")
    }

    /// One snapshot for the whole read, as SQLite's WAL readers have.
    static let readBegin = "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"

    /// Runs `body` on one snapshot (REPEATABLE READ, READ ONLY).
    public func read<T: Sendable>(_ body: @escaping @Sendable (any SQLTransaction) throws -> T) async throws -> T {
        try await transaction(begin: Self.readBegin, body)
    }

    private func transaction<T: Sendable>(begin: String, _ body: @escaping @Sendable (any SQLTransaction) throws -> T) async throws -> T {
        try await withLeaseTimeout { leased in
            try await self.client.withConnection { connection in
                // Too late: the caller was already answered 503; the body must not run and commit.
                guard leased.claim() else { throw self.unavailable }
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
            transaction.rollback()
            throw error
        }
    }

    /// Runs `operation`, which must call `leased.claim()` once it holds a pooled connection (and
    /// give up when that returns false);
    /// gives up with `PostgresUnavailable` when that has not happened within
    /// `options.connectionWait`
    /// (the server is down or restarting and the pool keeps trying to connect: a request must
    /// not wait for that). Once leased, the transaction runs to its end, however long.
    private func withLeaseTimeout<T: Sendable>(_ operation: @escaping @Sendable (Flag) async throws -> T) async throws -> T {
        let leased = Flag()
        return try await withThrowingTaskGroup(of: Outcome<T>.self) { group in
            group.addTask { .done(try await operation(leased)) }
            group.addTask {
                try? await Task.sleep(for: .seconds(self.options.connectionWait))
                return leased.abandon() ? .timedOut : .stillRunning
            }
            defer { group.cancelAll() }
            while let outcome = try await group.next() {
                switch outcome {
                case .done(let value): return value
                case .timedOut: throw unavailable
                case .stillRunning: continue
                }
            }
            throw CancellationError()
        }
    }

    private var unavailable: PostgresUnavailable {
        PostgresUnavailable(waited: .forConnection, seconds: options.connectionWait)
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
                } catch where Self.retries(error, attempt: attempt) {
                    attempt += 1
                }
            }
        }
    }

    func readSync<T>(_ body: (any SQLTransaction) throws -> T) throws -> T {
        try withConnectionOfItsOwn { connection in
            try Self.transaction(on: connection, logger: logger, begin: Self.readBegin, body)
        }
    }

    /// The connection that synchronous callers share, one at a time (opened at first use,
    /// opened again after it was lost): outside the pool, so it never waits on the pool's tasks.
    private let syncConnection = Mutex<PostgresConnection?>(nil)

    private func withConnectionOfItsOwn<T>(_ body: (PostgresConnection) throws -> T) throws -> T {
        try syncConnection.withLock { held in
            if held == nil || held!.isClosed {
                held = try PostgresConnection.connect(on: MultiThreadedEventLoopGroup.singleton.any(),
                                                      configuration: PostgresServer.configuration(location), id: 0, logger: logger).wait()
            }
            return try body(held!)
        }
    }

    // MARK: - Facts

    func schemaVersion() async throws -> String? {
        // The newest in the migrations' own order (identifiers do not sort: "v10-…" < "v2-…").
        let applied = Set(try await read { tx in try tx.fetchColumn(String.self, "SELECT identifier FROM gatehouse_migrations") })
        return PostgresSchema.migrations.map(\.identifier).last(where: applied.contains)
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

/// The server did not answer in time: no pooled connection came within
/// `DatabaseOptions.connectionWait` (the server down or restarting, or every connection busy),
/// or a statement got no answer within `PostgresServer.answerWait` (the server or the network
/// went silent; that connection was closed), or the connection closed before its answer
/// came (the server stopped). Answered as `StorageFault.unavailable`, a 503.
struct PostgresUnavailable: Error, CustomStringConvertible {
    enum Waited: Sendable { case forConnection, forAnswer, connectionClosed }
    var waited: Waited
    var seconds: TimeInterval
    var description: String {
        switch waited {
        case .forConnection: "no connection to the database server within \(String(format: "%g", seconds)) s"
        case .forAnswer: "no answer from the database server within \(String(format: "%g", seconds)) s"
        case .connectionClosed: "the connection to the database server closed before its answer came"
        }
    }
}
