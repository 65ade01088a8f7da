import Foundation
import GRDB
import GRDBSQLite

/// `SQLTransaction` over a GRDB connection inside a transaction.
///
/// Statements are prepared once per connection (GRDB's statement cache) and then driven
/// through SQLite's C API: values bound straight from `SQLValue`, rows read straight into
/// `SQLRow`. GRDB's own execution path builds `StatementArguments` and runs its observation
/// machinery for every statement, which cost more than SQLite's work on the hot paths (a
/// refresh runs 13 statements; `gatehouse-bench hot rotation` under `perf`). Gatehouse
/// observes nothing through GRDB, and statements that change the schema (or anything but
/// rows) still go through GRDB, which then clears its schema cache.
struct GRDBTransaction: SQLTransaction {
    let db: Database
    var dialect: SQLDialect { .sqlite }

    @discardableResult
    func execute(_ sql: String, _ arguments: SQLArguments) throws -> Int {
        guard Self.isRowStatement(sql) else {
            try db.cachedStatement(sql: sql).execute(arguments: Self.arguments(arguments))
            return db.changesCount
        }
        let statement = try bind(db.cachedStatement(sql: sql).sqliteStatement, sql, arguments)
        defer { sqlite3_reset(statement) }
        while try step(statement, sql) {}
        return Int(sqlite3_changes(db.sqliteConnection))
    }

    func fetchAll(_ sql: String, _ arguments: SQLArguments) throws -> [SQLRow] {
        try rows(sql, arguments, upTo: .max)
    }

    func fetchOne(_ sql: String, _ arguments: SQLArguments) throws -> SQLRow? {
        try rows(sql, arguments, upTo: 1).first
    }

    func beforeCommit(_ work: @escaping (any SQLTransaction) throws -> Void) throws {
        try work(self)
    }

    /// At most `limit` rows, each row's values copied once, into its SQLRow.
    private func rows(_ sql: String, _ arguments: SQLArguments, upTo limit: Int) throws -> [SQLRow] {
        let cached = try db.cachedStatement(sql: sql)
        let columns = SQLColumns(cached.columnNames) // names cached by the statement
        guard Self.isRowStatement(sql) else {
            return try GRDB.Row.fetchAll(cached, arguments: Self.arguments(arguments)).prefix(limit).map { row in
                SQLRow(columns: columns, values: row.databaseValues.map(Self.value))
            }
        }
        let statement = try bind(cached.sqliteStatement, sql, arguments)
        defer { sqlite3_reset(statement) }
        let count = sqlite3_column_count(statement)
        var rows: [SQLRow] = []
        guard limit > 0, try step(statement, sql) else { return rows }
        repeat {
            var values: [SQLValue] = []
            values.reserveCapacity(Int(count))
            for index in 0..<count { values.append(Self.value(statement, index)) }
            rows.append(SQLRow(columns: columns, values: values))
        } while try rows.count < limit && step(statement, sql)
        return rows
    }

    // MARK: - The C API

    /// `statement` (a cached one) with `arguments` bound; SQLite copies text and blobs.
    private func bind(_ statement: OpaquePointer, _ sql: String, _ arguments: SQLArguments) throws -> OpaquePointer {
        // Outside a transaction a statement would commit on its own: the transaction this value
        // stands for was rolled back (SQLITE_FULL, an I/O error), as GRDB would refuse too.
        guard sqlite3_get_autocommit(db.sqliteConnection) == 0 else {
            throw DatabaseError(resultCode: .SQLITE_ABORT, message: "Transaction was aborted", sql: sql)
        }
        let values = arguments.values
        guard sqlite3_bind_parameter_count(statement) == Int32(values.count) else {
            throw DatabaseError(resultCode: .SQLITE_MISUSE,
                               message: "\(values.count) arguments for \(sqlite3_bind_parameter_count(statement)) parameters", sql: sql)
        }
        for (offset, value) in values.enumerated() {
            let index = Int32(offset + 1)
            let code: Int32 = switch value {
            case .null: sqlite3_bind_null(statement, index)
            case .int(let number): sqlite3_bind_int64(statement, index, number)
            case .double(let number): sqlite3_bind_double(statement, index, number)
            case .text(var text):
                // By length, not up to a NUL: text may hold one.
                text.withUTF8 { bytes in
                    guard let start = bytes.baseAddress else { return sqlite3_bind_text(statement, index, "", 0, Self.transient) }
                    return start.withMemoryRebound(to: CChar.self, capacity: bytes.count) { chars in
                        sqlite3_bind_text(statement, index, chars, Int32(bytes.count), Self.transient)
                    }
                }
            case .blob(let data):
                data.withUnsafeBytes { bytes in
                    // A zero-length blob is a blob, not NULL (which a nil pointer would bind).
                    guard let start = bytes.baseAddress, !bytes.isEmpty else { return sqlite3_bind_zeroblob(statement, index, 0) }
                    return sqlite3_bind_blob(statement, index, start, Int32(bytes.count), Self.transient)
                }
            }
            guard code == SQLITE_OK else { throw error(sql) }
        }
        return statement
    }

    /// One step: true on a row, false when done; SQLite's error as GRDB's `DatabaseError`
    /// (the callers classify busy, full, corrupt and constraint errors by its result code).
    private func step(_ statement: OpaquePointer, _ sql: String) throws -> Bool {
        switch sqlite3_step(statement) {
        case SQLITE_ROW: return true
        case SQLITE_DONE: return false
        default: throw error(sql)
        }
    }

    private func error(_ sql: String) -> DatabaseError { Self.lastError(db, sql) }

    /// Runs a statement without arguments or rows (`BEGIN IMMEDIATE`, `COMMIT`) from `db`'s
    /// statement cache: compiled once per connection, where GRDB's `execute(sql:)` compiles it
    /// every time (a third of a point read's cost).
    static func run(_ sql: String, on db: Database) throws {
        let statement = try db.cachedStatement(sql: sql).sqliteStatement
        let code = sqlite3_step(statement)
        sqlite3_reset(statement)
        guard code == SQLITE_DONE else { throw lastError(db, sql) }
    }

    /// `db`'s last error (its extended code, as GRDB reports one; `StorageFault` classifies
    /// it), for every statement stepped through the C API (here and in `InlineReaders`).
    static func lastError(_ db: Database, _ sql: String) -> DatabaseError {
        DatabaseError(resultCode: ResultCode(rawValue: sqlite3_extended_errcode(db.sqliteConnection)),
                      message: String(cString: sqlite3_errmsg(db.sqliteConnection)), sql: sql)
    }

    private static func value(_ statement: OpaquePointer, _ index: Int32) -> SQLValue {
        switch sqlite3_column_type(statement, index) {
        case SQLITE_NULL: .null
        case SQLITE_INTEGER: .int(sqlite3_column_int64(statement, index))
        case SQLITE_FLOAT: .double(sqlite3_column_double(statement, index))
        case SQLITE_TEXT:
            // By length, not up to a NUL: text may hold one.
            .text(String(decoding: UnsafeBufferPointer(start: sqlite3_column_text(statement, index),
                                                       count: Int(sqlite3_column_bytes(statement, index))), as: UTF8.self))
        default:
            if let bytes = sqlite3_column_blob(statement, index) {
                .blob(Data(bytes: bytes, count: Int(sqlite3_column_bytes(statement, index))))
            } else {
                .blob(Data())
            }
        }
    }

    private static let transient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)

    /// Statements that read or write rows, which the C API path runs; anything else (DDL,
    /// PRAGMA, transaction control) goes through GRDB.
    static func isRowStatement(_ sql: String) -> Bool {
        // The first word, upper-cased, packed into an integer: no allocation per statement.
        var keyword: UInt64 = 0
        var length = 0
        for byte in sql.utf8 {
            if length == 0, byte == 0x20 || byte == 0x0A || byte == 0x09 || byte == 0x0D || byte == 0x28 { continue }
            guard (0x41...0x5A).contains(byte) || (0x61...0x7A).contains(byte) else { break }
            length += 1
            if length > 7 { return false }
            keyword = keyword << 8 | UInt64(byte & 0xDF)
        }
        return rowKeywords.contains(keyword)
    }

    private static let rowKeywords: Set<UInt64> = Set(["SELECT", "INSERT", "UPDATE", "DELETE", "WITH", "REPLACE", "VALUES"].map { word in
        word.utf8.reduce(0) { $0 << 8 | UInt64($1) }
    })

    // MARK: - GRDB's path (statements that are not about rows)

    private static func arguments(_ values: SQLArguments) -> StatementArguments {
        StatementArguments(values.values.map { value -> DatabaseValue in
            switch value {
            case .null: .null
            case .int(let number): number.databaseValue
            case .double(let number): number.databaseValue
            case .text(let text): text.databaseValue
            case .blob(let data): data.databaseValue
            }
        })
    }

    private static func value(_ value: DatabaseValue) -> SQLValue {
        switch value.storage {
        case .null: .null
        case .int64(let number): .int(number)
        case .double(let number): .double(number)
        case .string(let text): .text(text)
        case .blob(let data): .blob(data)
        }
    }
}
