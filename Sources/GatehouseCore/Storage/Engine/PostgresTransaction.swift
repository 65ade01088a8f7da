import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore
import PostgresNIO

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


    /// Ends the transaction after a failure. Not on a connection that is closed or closing (a
    /// server restart: the server has already rolled back), and waited for briefly: a query
    /// sent on a connection the server is closing was seen never to be answered, and a failed
    /// request must not then wait out `answerWait` before its 503.
    func rollback() {
        guard !connection.isClosed else { return }
        _ = try? run("ROLLBACK", [], waiting: PostgresServer.rollbackWait)
    }

    private func run(_ sql: String, _ arguments: SQLArguments, waiting: TimeInterval = PostgresServer.answerWait) throws -> PostgresQueryResult {
        var binds = PostgresBindings(capacity: arguments.values.count)
        for argument in arguments.values {
            switch argument {
            case .null: binds.appendNull()
            case .int(let number): binds.append(number)
            case .double(let number): binds.append(number)
            case .text(let text): binds.append(text)
            case .blob(let data): binds.append(ByteBuffer(bytes: data))
            }
        }
        let answer = connection.query(PostgresQuery(unsafeSQL: dialect.render(sql), binds: binds), logger: logger)
        return try answer.wait(atMost: waiting, closing: connection)
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
        case .bytea: return .blob(Data(try cell.decode(ByteBuffer.self).readableBytesView))
        case .bool: return .int(try cell.decode(Bool.self) ? 1 : 0)
        default: return .text(try cell.decode(String.self))
        }
    }
}

extension EventLoopFuture where Value: Sendable {
    /// `wait()` for at most `seconds`, or until `connection` is found closed with no answer; then
    /// `connection` is closed (the pool replaces it) and `PostgresUnavailable` is thrown.
    ///
    /// The second condition is for a server that went away: a query sent on a connection the
    /// server was closing (a restart; an idle pooled connection leased just after) was seen
    /// never to be failed by postgres-nio, so the closed socket is looked at every half second
    /// rather than the request waiting out the whole bound.
    func wait(atMost seconds: TimeInterval, closing connection: PostgresConnection) throws -> Value {
        let answered = DispatchSemaphore(value: 0)
        let outcome = NIOLockedValueBox<Result<Value, any Error>?>(nil)
        whenComplete { result in
            outcome.withLockedValue { $0 = result }
            answered.signal()
        }
        let deadline = DispatchTime.now() + seconds
        var closedSeen = false
        while answered.wait(timeout: min(deadline, .now() + (closedSeen ? 0.1 : 0.5))) == .timedOut {
            // Closed with the answer still missing: one more short look (it may be on its way), then give up.
            if DispatchTime.now() >= deadline || closedSeen { break }
            closedSeen = connection.isClosed
        }
        guard let result = outcome.withLockedValue({ $0 }) else {
            connection.close().whenComplete { _ in }
            throw PostgresUnavailable(waited: closedSeen ? .connectionClosed : .forAnswer, seconds: seconds)
        }
        return try result.get()
    }
}

extension SQLTransaction {
    /// Several statements separated by `;` (a migration), one at a time: the extended protocol
    /// that carries arguments takes one statement per message.
    func executeScript(_ sql: String) throws {
        for statement in PostgresSchema.statements(sql) { try execute(statement) }
    }
}
