import GRDB
import GRDBSQLite
import Synchronization

/// Checkpoints the WAL from the writer queue instead of inside a commit.
///
/// SQLite's automatic checkpoint (`wal_autocheckpoint`, 1000 pages) runs inside the COMMIT that
/// took the log past its threshold, on the committing thread: copying the log into the file and
/// two `fdatasync`s (0.7 ms median, 29 ms at worst, `strace -T` under `gatehouse-bench hot
/// rotation`). A write that runs inline commits on one of Swift's cooperative threads, which
/// must not be held that long. So the writer connection's WAL hook (which replaces the
/// automatic checkpoint) only notes that one is due, and `WriteCoalescer` runs it, PASSIVE as
/// SQLite's own, on its queue between batches.
final class WALCheckpoints: Sendable {
    /// Log pages that make a checkpoint due: SQLite's default.
    static let pages: Int32 = 1000

    private let due = Atomic<Bool>(false)

    /// Installs the hook on the pool's writer connection, which holds `self` unretained: the
    /// owner (`WriteCoalescer`, through `SQLiteEngine`) outlives the connection's commits.
    func install(on pool: DatabasePool) throws {
        try pool.writeWithoutTransaction { db in
            sqlite3_wal_hook(db.sqliteConnection, { context, _, _, pages in
                if pages >= WALCheckpoints.pages {
                    Unmanaged<WALCheckpoints>.fromOpaque(context!).takeUnretainedValue().due.store(true, ordering: .relaxed)
                }
                return SQLITE_OK
            }, Unmanaged.passUnretained(self).toOpaque())
        }
    }

    /// Takes the hook off (SQLite's automatic checkpoint does not come back): before the pool
    /// closes, so that the unretained context cannot outlive its owner.
    static func uninstall(from db: Database) {
        sqlite3_wal_hook(db.sqliteConnection, nil, nil)
    }

    /// True if a commit found the log past `pages` since the last call.
    var isDue: Bool { due.load(ordering: .relaxed) }

    /// Runs a due checkpoint on `pool`'s writer; call where the writer is free (the drain).
    /// PASSIVE: it copies what no reader still needs and never waits for a lock.
    func runIfDue(on pool: DatabasePool) {
        guard due.exchange(false, ordering: .relaxed) else { return }
        _ = try? pool.writeWithoutTransaction { db in
            sqlite3_wal_checkpoint_v2(db.sqliteConnection, nil, SQLITE_CHECKPOINT_PASSIVE, nil, nil)
        }
    }
}
