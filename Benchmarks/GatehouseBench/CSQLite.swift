import Foundation
import GRDBSQLite

/// SQLite through its C API and nothing else: one connection, statements prepared once and
/// reset after each use, values bound in place, no GRDB, no tasks, no queues. The floor the
/// storage layer's figures are ratios to (`CAPIBaseline`).
final class CSQLite {
    let handle: OpaquePointer

    /// Opens `path` read-write with Gatehouse's settings: WAL, synchronous=NORMAL, foreign keys.
    init(path: String) throws {
        var db: OpaquePointer?
        let code = sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nil)
        guard code == SQLITE_OK, let db else {
            sqlite3_close(db)
            throw BenchError.unexpected("sqlite3_open_v2 \(path): \(code)")
        }
        handle = db
        try execute("PRAGMA journal_mode = WAL")
        try execute("PRAGMA synchronous = NORMAL")
        try execute("PRAGMA foreign_keys = ON")
        sqlite3_busy_timeout(db, 5000)
    }

    deinit { sqlite3_close_v2(handle) }

    func execute(_ sql: String) throws {
        let code = sqlite3_exec(handle, sql, nil, nil, nil)
        guard code == SQLITE_OK else { throw error(code, sql) }
    }

    func prepare(_ sql: String) throws -> CStatement {
        var statement: OpaquePointer?
        let code = sqlite3_prepare_v3(handle, sql, -1, UInt32(SQLITE_PREPARE_PERSISTENT), &statement, nil)
        guard code == SQLITE_OK, let statement else { throw error(code, sql) }
        return CStatement(statement, connection: self)
    }

    func error(_ code: Int32, _ sql: String) -> BenchError {
        .unexpected("SQLite \(code) (\(String(cString: sqlite3_errmsg(handle)))) in: \(sql.prefix(80))")
    }
}

/// One prepared statement: bind by position (1-based, as SQLite counts), step, reset.
final class CStatement {
    private let statement: OpaquePointer
    private let connection: CSQLite
    /// SQLite copies bound text and blobs (`SQLITE_TRANSIENT`), as every safe binding does.
    private static let transient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)

    init(_ statement: OpaquePointer, connection: CSQLite) {
        self.statement = statement
        self.connection = connection
    }

    deinit { sqlite3_finalize(statement) }

    func bind(_ index: Int32, _ value: Int64) { sqlite3_bind_int64(statement, index, value) }
    func bind(_ index: Int32, _ value: Double) { sqlite3_bind_double(statement, index, value) }
    func bind(_ index: Int32, _ value: String) { sqlite3_bind_text(statement, index, value, -1, Self.transient) }
    func bind(_ index: Int32, _ value: [UInt8]) {
        value.withUnsafeBytes { _ = sqlite3_bind_blob(statement, index, $0.baseAddress, Int32($0.count), Self.transient) }
    }
    func bindNull(_ index: Int32) { sqlite3_bind_null(statement, index) }

    /// Steps once: true while a row is there.
    @discardableResult
    func step() throws -> Bool {
        switch sqlite3_step(statement) {
        case SQLITE_ROW: return true
        case SQLITE_DONE: return false
        case let code: throw connection.error(code, String(cString: sqlite3_sql(statement)))
        }
    }

    /// Runs a statement that returns no rows, then resets it for the next use.
    func run() throws {
        try step()
        reset()
    }

    func reset() {
        sqlite3_reset(statement)
        sqlite3_clear_bindings(statement)
    }

    func int(_ column: Int32) -> Int64 { sqlite3_column_int64(statement, column) }
    func double(_ column: Int32) -> Double { sqlite3_column_double(statement, column) }
    func isNull(_ column: Int32) -> Bool { sqlite3_column_type(statement, column) == SQLITE_NULL }
    func text(_ column: Int32) -> String? {
        guard let bytes = sqlite3_column_text(statement, column) else { return nil }
        return String(cString: bytes)
    }
    func blob(_ column: Int32) -> [UInt8] {
        let count = Int(sqlite3_column_bytes(statement, column))
        guard count > 0, let bytes = sqlite3_column_blob(statement, column) else { return [] }
        return Array(UnsafeRawBufferPointer(start: bytes, count: count))
    }
    var columnCount: Int32 { sqlite3_column_count(statement) }
}
