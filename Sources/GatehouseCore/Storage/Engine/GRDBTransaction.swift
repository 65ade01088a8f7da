import Foundation
import GRDB

/// `SQLTransaction` over a GRDB connection inside a transaction: statements are prepared once
/// per connection and cached, so the seam adds no statement preparation on SQLite's hot paths.
struct GRDBTransaction: SQLTransaction {
    let db: Database
    var dialect: SQLDialect { .sqlite }

    @discardableResult
    func execute(_ sql: String, _ arguments: SQLArguments) throws -> Int {
        try db.cachedStatement(sql: sql).execute(arguments: Self.arguments(arguments))
        return db.changesCount
    }

    func fetchAll(_ sql: String, _ arguments: SQLArguments) throws -> [SQLRow] {
        try rows(sql, arguments, upTo: .max)
    }

    func fetchOne(_ sql: String, _ arguments: SQLArguments) throws -> SQLRow? {
        try rows(sql, arguments, upTo: 1).first
    }

    /// At most `limit` rows. A cursor's row is read in place from the statement: each row's
    /// values are copied once, into its SQLRow (Row.fetchAll would copy each into a GRDB Row first).
    private func rows(_ sql: String, _ arguments: SQLArguments, upTo limit: Int) throws -> [SQLRow] {
        let statement = try db.cachedStatement(sql: sql)
        let columns = SQLColumns(statement.columnNames)
        let cursor = try Row.fetchCursor(statement, arguments: Self.arguments(arguments))
        var rows: [SQLRow] = []
        while rows.count < limit, try cursor.next() != nil {
            rows.append(SQLRow(columns: columns, values: Self.values(of: statement, count: columns.names.count)))
        }
        return rows
    }

    func beforeCommit(_ work: @escaping (any SQLTransaction) throws -> Void) throws {
        try work(self)
    }

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

    /// The values of the row `statement` is on (a cursor just stepped it), read straight from
    /// SQLite: `Row.databaseValues` would also build each column's name, and `row[index]`
    /// goes through GRDB's generic decoding.
    private static func values(of statement: Statement, count: Int) -> [SQLValue] {
        var values: [SQLValue] = []
        values.reserveCapacity(count)
        for index in 0..<count {
            values.append(value(DatabaseValue(sqliteStatement: statement.sqliteStatement, index: CInt(index))))
        }
        return values
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
