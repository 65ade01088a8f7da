import GRDB

/// Hot-path SQL through GRDB's per-connection statement cache.
///
/// `db.execute(sql:)` parses, authorizes (GRDB's region tracking) and finalizes the statement
/// on every call: measured at about a tenth of a refresh's CPU time. A cached statement is
/// prepared once per connection and only re-bound afterwards. Use these for statements that
/// run on every request; one-off SQL stays with `execute(sql:)`.
extension Database {
    func executeCached(_ sql: String, arguments: StatementArguments = []) throws {
        try cachedStatement(sql: sql).execute(arguments: arguments)
    }

    func fetchOneCached<Value: DatabaseValueConvertible & StatementColumnConvertible>(
        _ type: Value.Type, _ sql: String, arguments: StatementArguments = []) throws -> Value? {
        try Value.fetchOne(cachedStatement(sql: sql), arguments: arguments)
    }

    func fetchRowCached(_ sql: String, arguments: StatementArguments = []) throws -> Row? {
        try Row.fetchOne(cachedStatement(sql: sql), arguments: arguments)
    }

    func fetchRecordCached<Record: FetchableRecord>(_ type: Record.Type, _ sql: String,
                                                    arguments: StatementArguments = []) throws -> Record? {
        try Record.fetchOne(cachedStatement(sql: sql), arguments: arguments)
    }
}
