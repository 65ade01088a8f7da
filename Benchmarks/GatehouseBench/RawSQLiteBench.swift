import Foundation
import GRDB

/// The limit every other number is a ratio to: what SQLite itself does through GRDB on this
/// machine with Gatehouse's settings (WAL, synchronous=NORMAL), one row per transaction.
enum RawSQLiteBench {
    static func run(in directory: URL, seconds: Double) throws -> [BenchResult] {
        let pool = try DatabasePool(path: directory.appendingPathComponent("raw.sqlite").path)
        // GRDB's pools default to WAL with synchronous=NORMAL, as Gatehouse uses; said here to be sure.
        try pool.writeWithoutTransaction { db in try db.execute(sql: "PRAGMA synchronous = NORMAL") }
        try pool.write { db in
            try db.execute(sql: "CREATE TABLE t (id INTEGER PRIMARY KEY, v BLOB NOT NULL)")
        }
        let payload = Data(repeating: 7, count: 64)
        let commits = try Measure.syncRate(seconds: seconds) {
            try pool.write { db in
                try db.execute(sql: "INSERT INTO t (v) VALUES (?)", arguments: [payload])
            }
        }
        let rows = try pool.read { db in try Int64.fetchOne(db, sql: "SELECT count(*) FROM t") ?? 1 }
        var next: Int64 = 0
        let reads = try Measure.syncRate(seconds: seconds) {
            next = next % rows + 1
            _ = try pool.read { db in try Data.fetchOne(db, sql: "SELECT v FROM t WHERE id = ?", arguments: [next]) }
        }
        try pool.close()
        return [
            BenchResult(group: "raw SQLite", name: "single-row write transactions", value: commits, unit: "ops/s",
                        ratioToRawCommits: 1, note: "the limit"),
            BenchResult(group: "raw SQLite", name: "point reads (one read each)", value: reads, unit: "ops/s"),
        ]
    }
}
