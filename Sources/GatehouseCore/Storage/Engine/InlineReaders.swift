import Foundation
import GRDB
import GRDBSQLite
import Synchronization

/// Point reads on the calling thread (SQLite), with a hard bound on what they may cost there.
///
/// A read through GRDB's pool hops to a reader's Dispatch queue and back: two thread wake-ups
/// (futex) that cost far more than the read (issue 21: 11,000 point reads/s against the C
/// API's 320,000). Running every read on the caller's thread was tried and reverted: a long
/// read (an audit report's batch) then held one of the cooperative pool's two threads and
/// starved in-process servers. So a read here runs inline only while it stays a point read:
///
/// - on a read-only connection of its own, taken from a free list without waiting (none free:
///   the caller queues the read instead);
/// - with `busy_timeout` 0: a read that would wait for a lock (WAL recovery) is declined at once;
/// - under a step budget (`StepBudget`): past `StepBudget.instructions` virtual-machine
///   instructions, SQLite interrupts the statement and the read is declined.
///
/// A declined read is rolled back and runs again through the pool, so `body` must be free of
/// side effects (it only reads and returns a value). Connections open lazily, up to `capacity`.
final class InlineReaders: Sendable {
    private let path: String
    private let capacity: Int
    private let prepare: @Sendable (Database) throws -> Void
    private let state = Mutex<(free: [Reader], opened: Int, closed: Bool)>(([], 0, false))
    /// Reads served on the calling thread, and reads declined (queued instead), since opening.
    let served = Atomic<Int>(0)
    let declined = Atomic<Int>(0)

    /// `prepare` runs on each new connection (SQL functions, cache size), as on the pool's.
    init(path: String, capacity: Int, prepare: @escaping @Sendable (Database) throws -> Void) {
        self.path = path
        self.capacity = capacity
        self.prepare = prepare
    }

    /// Runs `body` in a read transaction on the calling thread, or declines. Errors of `body`
    /// itself (and SQLite's, other than the declines above) are thrown as they are.
    func read<T>(_ body: (any SQLTransaction) throws -> T) throws -> InlineOutcome<T> {
        let outcome = try attempt(body)
        switch outcome {
        case .done: served.add(1, ordering: .relaxed)
        case .declined: declined.add(1, ordering: .relaxed)
        }
        return outcome
    }

    private func attempt<T>(_ body: (any SQLTransaction) throws -> T) throws -> InlineOutcome<T> {
        guard let reader = take() else { return .declined }
        defer { giveBack(reader) }
        reader.budget.arm()
        do {
            return .done(try reader.queue.inDatabase { db in
                try GRDBTransaction.run("BEGIN DEFERRED", on: db)
                do {
                    try reader.forgetStatementsIfSchemaChanged(db)
                    let value = try body(GRDBTransaction(db: db))
                    // A body that swallowed an interruption (`try?`) holds a partial answer.
                    if reader.budget.spent { throw DatabaseError(resultCode: .SQLITE_INTERRUPT, message: "step budget spent") }
                    try GRDBTransaction.run("COMMIT", on: db)
                    return value
                } catch {
                    // An interrupted statement may have ended the transaction already.
                    if sqlite3_get_autocommit(db.sqliteConnection) == 0 { try? GRDBTransaction.run("ROLLBACK", on: db) }
                    throw error
                }
            })
        } catch let error as DatabaseError where [.SQLITE_BUSY, .SQLITE_LOCKED, .SQLITE_INTERRUPT].contains(error.resultCode) {
            return .declined
        }
    }

    /// A free reader, or a new one while fewer than `capacity` are open; nil otherwise (or
    /// when one cannot be opened: the pool then serves, and says what is wrong).
    private func take() -> Reader? {
        let (reader, mayOpen): (Reader?, Bool) = state.withLock { state in
            if state.closed { return (nil, false) }
            if let reader = state.free.popLast() { return (reader, false) }
            guard state.opened < capacity else { return (nil, false) }
            state.opened += 1
            return (nil, true)
        }
        if let reader { return reader }
        guard mayOpen else { return nil }
        do {
            return try Reader(path: path, prepare: prepare)
        } catch {
            state.withLock { $0.opened -= 1 }
            return nil
        }
    }

    /// A reader back on the free list; closed instead once `close()` has run.
    private func giveBack(_ reader: Reader) {
        let keep = state.withLock { state in
            if state.closed { state.opened -= 1 } else { state.free.append(reader) }
            return !state.closed
        }
        if !keep { reader.close() }
    }

    /// Closes the free connections now and each one in use when its read ends; no read is
    /// served inline after this.
    func close() {
        let readers = state.withLock { state in
            state.closed = true
            defer { state.opened -= state.free.count; state.free.removeAll() }
            return state.free
        }
        for reader in readers { reader.close() }
    }

    /// One connection, its schema check and its step budget (which the connection holds
    /// unretained: the reader outlives its connection, closed before it is released).
    private final class Reader: @unchecked Sendable {
        let queue: DatabaseQueue
        let budget = StepBudget()
        /// Prepared once (finalized in `close`).
        private var schemaVersion: OpaquePointer?
        /// The schema version this connection's cached statements were compiled against.
        private var knownSchema: Int64?

        init(path: String, prepare: @escaping @Sendable (Database) throws -> Void) throws {
            var config = Configuration()
            config.readonly = true
            config.busyMode = .immediateError
            config.prepareDatabase { db in try prepare(db) }
            queue = try DatabaseQueue(path: path, configuration: config)
            try queue.inDatabase { db in
                budget.install(on: db)
                let sql = "PRAGMA schema_version"
                guard sqlite3_prepare_v2(db.sqliteConnection, sql, -1, &schemaVersion, nil) == SQLITE_OK else {
                    throw GRDBTransaction.lastError(db, sql)
                }
            }
        }

        /// Another process may have migrated the file: SQLite recompiles a cached statement
        /// quietly, but the column names GRDB cached for it (`GRDBTransaction` reads rows by
        /// them) would be the old ones. GRDB's pool checks before every read; so does this, in
        /// the read's snapshot (the check starts it).
        func forgetStatementsIfSchemaChanged(_ db: Database) throws {
            guard sqlite3_step(schemaVersion) == SQLITE_ROW else {
                sqlite3_reset(schemaVersion)
                throw GRDBTransaction.lastError(db, "PRAGMA schema_version")
            }
            let version = sqlite3_column_int64(schemaVersion, 0)
            sqlite3_reset(schemaVersion)
            if version != knownSchema {
                if knownSchema != nil {
                    db.clearSchemaCache()
                    // The pragma reads the version without reloading the connection's schema, so
                    // a statement compiled now would still name the old columns until its first
                    // step: a statement that reads the schema table makes SQLite reload it.
                    let reload = "SELECT 1 FROM sqlite_schema LIMIT 1"
                    guard sqlite3_exec(db.sqliteConnection, reload, nil, nil, nil) == SQLITE_OK else { throw GRDBTransaction.lastError(db, reload) }
                }
                knownSchema = version
            }
        }

        /// Finalizes the statements and closes the connection (once; `deinit` too, so a reader
        /// whose opening failed halfway leaves nothing open).
        func close() {
            sqlite3_finalize(schemaVersion)
            schemaVersion = nil
            try? queue.close()
        }

        deinit { close() }
    }
}
