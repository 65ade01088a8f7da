import Foundation
import GRDB

/// `SQLTransaction` over a GRDB connection inside a transaction: statements are prepared once
/// per connection and cached (as the services' own GRDB code does), so the seam adds no
/// statement preparation on SQLite's hot paths.
struct GRDBTransaction: SQLTransaction {
    let db: Database
    var dialect: SQLDialect { .sqlite }

    func execute(_ sql: String, _ arguments: [SQLValue]) throws {
        try db.cachedStatement(sql: sql).execute(arguments: Self.arguments(arguments))
    }

    func fetchAll(_ sql: String, _ arguments: [SQLValue]) throws -> [SQLRow] {
        try Row.fetchAll(db.cachedStatement(sql: sql), arguments: Self.arguments(arguments)).map { row in
            SQLRow(row.databaseValues.map(Self.value))
        }
    }

    func fetchOne(_ sql: String, _ arguments: [SQLValue]) throws -> SQLRow? {
        // A cursor's row is read in place: no copy of the row, no array of rows.
        let cursor = try Row.fetchCursor(db.cachedStatement(sql: sql), arguments: Self.arguments(arguments))
        guard let row = try cursor.next() else { return nil }
        return SQLRow(row.databaseValues.map(Self.value))
    }

    private static func arguments(_ values: [SQLValue]) -> StatementArguments {
        StatementArguments(values.map { value -> DatabaseValue in
            switch value {
            case .null: .null
            case .int(let number): number.databaseValue
            case .double(let number): number.databaseValue
            case .text(let text): text.databaseValue
            case .blob(let bytes): Data(bytes).databaseValue
            }
        })
    }

    private static func value(_ value: DatabaseValue) -> SQLValue {
        switch value.storage {
        case .null: .null
        case .int64(let number): .int(number)
        case .double(let number): .double(number)
        case .string(let text): .text(text)
        case .blob(let data): .blob([UInt8](data))
        }
    }
}
