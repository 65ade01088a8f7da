import Foundation
import GatehouseCore
import GRDB
import Logging
import NIOPosix
import PostgresNIO
import Synchronization
import Testing

/// Which engine this test run stores into: SQLite (the default) or PostgreSQL
/// (`GATEHOUSE_TEST_ENGINE=postgres`). The suite runs once per engine (README's test command);
/// fixtures ask here for a fresh database, so the same tests exercise both.
public enum TestEngine: String, Sendable {
    case sqlite, postgres

    public static let current: TestEngine =
        ProcessInfo.processInfo.environment["GATEHOUSE_TEST_ENGINE"].flatMap(TestEngine.init(rawValue:)) ?? .sqlite

    public static var isSQLite: Bool { current == .sqlite }

    /// Options for a database a test opens in this process. A PostgreSQL lease wait here
    /// measures the test process, not the server: hundreds of tests share a cooperative pool
    /// of one thread per core, and while fixtures are created (or a test blocks) a granted
    /// lease can wait its turn for seconds. Waits for a pooled connection are what a separate
    /// process (serve, the CLI) is tested for, with the product's own default.
    public static func options(createIfMissing: Bool = false, readOnly: Bool = false) -> DatabaseOptions {
        DatabaseOptions(readOnly: readOnly, createIfMissing: createIfMissing, connectionWait: 300)
    }

    /// The one server of a PostgreSQL run, started at first use and stopped when the test
    /// process exits; each fixture gets a database of its own on it, copied from a template
    /// that Gatehouse's own migrations built once (a file copy: a fixture costs milliseconds,
    /// not fifty DDL round trips and a WAL-logged copy).
    static let sharedCluster = Mutex<Result<PostgresCluster, PostgresCluster.ClusterError>?>(nil)
    static let template = "gatehouse_template"
    /// A superuser connection of the test process's own, for CREATE DATABASE (a psql process per
    /// fixture would cost a fork, an exec and a login each).
    static let admin = Mutex<PostgresConnection?>(nil)

    public static func cluster() throws -> PostgresCluster {
        try sharedCluster.withLock { shared in
            if let shared { return try shared.get() }
            let started: Result<PostgresCluster, PostgresCluster.ClusterError>
            // Every fixture's pool and every process a test starts connects to this one server.
            do {
                let cluster = try PostgresCluster(settings: ["max_connections=1000"])
                try cluster.psqlNow("CREATE DATABASE \(template)")
                let schema = try GatehouseDatabase.open(path: cluster.url(database: template), options: .init(createIfMissing: true))
                try schema.close()
                started = .success(cluster)
            } catch let error as PostgresCluster.ClusterError {
                started = .failure(error)
            } catch {
                started = .failure(.failed("\(error)"))
            }
            shared = started
            if case .success = started { atexit { TestEngine.stopSharedCluster() } }
            return try started.get()
        }
    }

    private static func stopSharedCluster() {
        if case .success(let cluster) = sharedCluster.withLock({ $0 }) { cluster.stopNow() }
    }

    /// A fresh database for a test: `name.sqlite` in `directory` (created when first opened),
    /// or a new database with Gatehouse's schema and nothing else on the shared PostgreSQL
    /// server (its URL). Either is what `--db` takes.
    public static func database(_ name: String, in directory: TemporaryDirectory) throws -> String {
        switch current {
        case .sqlite:
            return directory.path(name + ".sqlite")
        case .postgres:
            return try postgresDatabase(name)
        }
    }

    /// A fresh database with Gatehouse's schema on the shared PostgreSQL server (its URL),
    /// whatever the run's engine (for a test that moves data between engines).
    public static func postgresDatabase(_ name: String) throws -> String {
        let cluster = try cluster()
        let database = "t_" + name.filter { $0.isLetter || $0.isNumber }.prefix(20).lowercased() + "_"
            + UUID().uuidString.prefix(8).lowercased()
        try admin.withLock { connection in
            if connection == nil || connection!.isClosed {
                let configuration = PostgresConnection.Configuration(
                    unixSocketPath: cluster.directory + "/.s.PGSQL.\(cluster.port)", username: cluster.superuser,
                    password: cluster.password, database: "postgres")
                connection = try PostgresConnection.connect(on: MultiThreadedEventLoopGroup.singleton.any(), configuration: configuration,
                                                            id: 0, logger: Logger(label: "gatehouse.tests")).wait()
            }
            _ = try connection!.query(PostgresQuery(unsafeSQL: "CREATE DATABASE \(database) TEMPLATE \(template) STRATEGY FILE_COPY"),
                                      logger: Logger(label: "gatehouse.tests")).wait()
        }
        return cluster.url(database: database)
    }

    /// Runs `sql` on the database at `location` from outside Gatehouse, as an attacker or a
    /// curious administrator would (SQLite: a connection of its own; PostgreSQL: psql as the
    /// superuser).
    public static func rawExecute(_ sql: String, on location: String) throws {
        if location.hasPrefix("postgres") {
            guard let database = URLComponents(string: location)?.path.dropFirst(), !database.isEmpty else { return }
            try cluster().psqlNow(sql, database: String(database))
        } else {
            let queue = try DatabaseQueue(path: location)
            try queue.write { db in try db.execute(sql: sql) }
            try queue.close()
        }
    }
}

extension Trait where Self == ConditionTrait {
    /// For a test of something only SQLite has (the file, its locks, its pages): skipped, with
    /// the reason printed, in the PostgreSQL run.
    public static var sqliteOnly: Self {
        .enabled(if: TestEngine.isSQLite, "SQLite-specific: skipped in the \(TestEngine.current.rawValue) run")
    }
}

extension Trait where Self == ConditionTrait {
    /// For a race that only PostgreSQL's concurrent writers can run (SQLite's write
    /// transaction holds the whole database): skipped, with the reason, in the SQLite run.
    public static var postgresOnly: Self {
        .enabled(if: TestEngine.current == .postgres, "PostgreSQL-specific: runs with GATEHOUSE_TEST_ENGINE=postgres")
    }
}

extension TemporaryDirectory {
    /// A fresh database for this test in the engine of the run (`TestEngine.database`).
    public func database(_ name: String) throws -> String { try TestEngine.database(name, in: self) }
}
