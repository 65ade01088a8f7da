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
        let statement = try db.cachedStatement(sql: sql)
        let columns = SQLColumns(statement.columnNames)
        return try Row.fetchAll(statement, arguments: Self.arguments(arguments)).map { row in
            SQLRow(columns: columns, values: row.databaseValues.map(Self.value))
        }
    }

    func fetchOne(_ sql: String, _ arguments: SQLArguments) throws -> SQLRow? {
        // A cursor's row is read in place: no copy of the row, no array of rows.
        let statement = try db.cachedStatement(sql: sql)
        let cursor = try Row.fetchCursor(statement, arguments: Self.arguments(arguments))
        guard let row = try cursor.next() else { return nil }
        return SQLRow(columns: SQLColumns(statement.columnNames), values: row.databaseValues.map(Self.value))
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
