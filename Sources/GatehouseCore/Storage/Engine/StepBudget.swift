import GRDB
import GRDBSQLite

/// A cap on the SQLite virtual-machine instructions one piece of work may run, through
/// `sqlite3_progress_handler`: past the cap, SQLite interrupts the running statement
/// (`SQLITE_INTERRUPT`). What lets a transaction run on the caller's thread (`InlineReaders`,
/// `WriteCoalescer`'s inline writes) yet never hold that thread for long: work that outgrows
/// the budget is rolled back and queued instead.
///
/// Not thread-safe by design: only the thread that holds the connection arms it and reads it.
final class StepBudget: @unchecked Sendable {
    /// Instructions allowed: a lookup by key takes well under a thousand and a token rotation a
    /// few thousand; this allows far more and still ends within about a millisecond.
    static let instructions: Int32 = 200_000
    /// SQLite calls the handler every this many instructions.
    private static let period: Int32 = 1_000

    private var calls: Int32 = 0

    /// True once the work since `arm` ran past the budget (whether or not it caught the
    /// interruption).
    var spent: Bool { calls > Self.instructions / Self.period }

    /// Starts a fresh budget for the next piece of work.
    func arm() { calls = 0 }

    /// Installs the handler on `db`. The connection holds `self` unretained: the caller keeps
    /// this budget alive until the connection is closed or `uninstall` ran.
    func install(on db: Database) {
        sqlite3_progress_handler(db.sqliteConnection, Self.period, { context in
            let budget = Unmanaged<StepBudget>.fromOpaque(context!).takeUnretainedValue()
            budget.calls += 1
            return budget.spent ? 1 : 0
        }, Unmanaged.passUnretained(self).toOpaque())
    }

    static func uninstall(from db: Database) {
        sqlite3_progress_handler(db.sqliteConnection, 0, nil, nil)
    }
}

/// What a transaction offered to the caller's thread came to.
enum InlineOutcome<T> {
    case done(T)
    /// Not run there (no connection free, a lock in the way, the budget spent): nothing of it
    /// was kept, and the caller queues it instead.
    case declined
}
