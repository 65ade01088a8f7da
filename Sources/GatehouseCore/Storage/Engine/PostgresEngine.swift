import Foundation
import Logging
import NIOCore
import NIOPosix
import NIOSSL
import PostgresNIO

/// The PostgreSQL side of the seam (docs/engines.md), as far as it is built: a pool
/// (`PostgresClient`) and write transactions whose synchronous bodies (the rules, written once
/// over `SQLTransaction`) run on NIO's blocking thread pool, each statement waited for there,
/// never on an event loop. Serialization failures (40001) and deadlocks (40P01) are retried
/// up to three times.
///
/// Not yet what `Gatehouse.open` uses: only rules already moved onto `SQLTransaction` run here
/// (the GCRA rate limiter so far), and the schema is not yet translated as a whole.
public final class PostgresEngine: Sendable {
    public let location: PostgresLocation
    private let client: PostgresClient
    private let runner: Task<Void, Never>
    private let logger = Logger(label: "gatehouse.postgres")

    public init(_ location: PostgresLocation, connections: Int = 8) throws {
        self.location = location
        var configuration: PostgresClient.Configuration
        if location.isUnixSocket {
            configuration = .init(unixSocketPath: location.unixSocketPath, username: location.user, password: location.password,
                                  database: location.database)
        } else {
            configuration = .init(host: location.host, port: location.port, username: location.user, password: location.password,
                                  database: location.database, tls: Self.tls(location.sslMode))
        }
        configuration.options.maximumConnections = connections
        let client = PostgresClient(configuration: configuration, backgroundLogger: logger)
        self.client = client
        runner = Task { await client.run() }
    }

    /// The pool's TLS for libpq's `sslmode`.
    static func tls(_ mode: PostgresLocation.SSLMode) -> PostgresClient.Configuration.TLS {
        guard let (configuration, required) = mode.tls else { return .disable }
        return required ? .require(configuration) : .prefer(configuration)
    }

    /// Runs `body` in one transaction (READ COMMITTED; the rules take row locks where they
    /// need them) and commits; rolls back on a throw.
    public func write<T: Sendable>(_ body: @escaping @Sendable (any SQLTransaction) throws -> T) async throws -> T {
        var attempt = 1
        while true {
            do {
                return try await client.withConnection { connection in
                    try await NIOThreadPool.singleton.runIfActive { [logger] in
                        let transaction = PostgresTransaction(connection: connection, logger: logger)
                        try transaction.execute("BEGIN", [])
                        do {
                            let value = try body(transaction)
                            try transaction.execute("COMMIT", [])
                            return value
                        } catch {
                            _ = try? transaction.execute("ROLLBACK", [])
                            throw error
                        }
                    }
                }
            } catch let error as PSQLError where attempt < 3 && ["40001", "40P01"].contains(error.serverInfo?[.sqlState] ?? "") {
                attempt += 1
            }
        }
    }

    /// Stops the pool: its connections close.
    public func close() {
        runner.cancel()
    }
}

/// `SQLTransaction` over one leased connection, for a body on a thread of its own.
struct PostgresTransaction: SQLTransaction {
    let connection: PostgresConnection
    let logger: Logger
    var dialect: SQLDialect { .postgres }

    func execute(_ sql: String, _ arguments: [SQLValue]) throws {
        _ = try run(sql, arguments)
    }

    func fetchAll(_ sql: String, _ arguments: [SQLValue]) throws -> [SQLRow] {
        try run(sql, arguments).rows.map { row in
            SQLRow(try row.map { cell in try Self.value(cell) })
        }
    }

    func fetchOne(_ sql: String, _ arguments: [SQLValue]) throws -> SQLRow? {
        try fetchAll(sql, arguments).first
    }

    private func run(_ sql: String, _ arguments: [SQLValue]) throws -> PostgresQueryResult {
        var binds = PostgresBindings(capacity: arguments.count)
        for argument in arguments {
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
        case .bytea: return .blob([UInt8](try cell.decode(ByteBuffer.self).readableBytesView))
        case .bool: return .int(try cell.decode(Bool.self) ? 1 : 0)
        default: return .text(try cell.decode(String.self))
        }
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
