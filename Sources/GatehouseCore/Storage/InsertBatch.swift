import Foundation

/// Rows of one INSERT sent many to a statement: one round trip per 200 rows on PostgreSQL, two
/// cached statement shapes (full and the rest) on SQLite.
struct InsertBatch {
    static let rowsPerStatement = 200
    let tx: any SQLTransaction
    let head: String
    let row: String
    let autoFlush: Bool
    private var pending = SQLArguments([])
    private var count = 0

    init(_ tx: any SQLTransaction, _ head: String, row: String, autoFlush: Bool = true) {
        self.tx = tx
        self.head = head
        self.row = row
        self.autoFlush = autoFlush
    }

    var isFull: Bool { count >= Self.rowsPerStatement }

    mutating func add(_ values: SQLArguments) throws {
        pending.append(contentsOf: values)
        count += 1
        if autoFlush && isFull { try flush() }
    }

    mutating func flush() throws {
        guard count > 0 else { return }
        try tx.execute(head + " " + Array(repeating: row, count: count).joined(separator: ", "), pending)
        pending = SQLArguments([])
        count = 0
    }
}
