import Foundation
import GatehouseCore
import GRDB

/// The limits every other number is a ratio to: what SQLite itself does on this machine with
/// Gatehouse's settings (WAL, synchronous=NORMAL), one row per transaction, through its C API
/// (`CSQLite`) and through GRDB, beside the same reads through Gatehouse's storage layer.
/// All on one file, which Gatehouse created (so its storage layer opens it).
enum RawSQLiteBench {
    static func run(in directory: URL, seconds: Double) async throws -> [BenchResult] {
        let path = try prepare(in: directory)
        let (commits, reads, rows) = try grdb(path: path, seconds: seconds)
        let cCommits = try CAPIBaseline.commits(path: path, seconds: seconds)
        let cReads = try CAPIBaseline.pointReads(path: path, rows: rows, seconds: seconds)
        let storageReads = try await storageLayerReads(path: path, rows: rows, seconds: seconds)
        let queuedReads = try await storageLayerReads(path: path, rows: rows, seconds: seconds, queued: true)
        func ofC(_ value: Double, _ base: Double) -> String { String(format: "%.0f%% of the C API's", value / base * 100) }
        return [
            BenchResult(group: "raw SQLite", name: "C API: single-row write transactions", value: cCommits, unit: "ops/s",
                        ratioToRawCommits: 1, note: "the limit"),
            BenchResult(group: "raw SQLite", name: "C API: point reads (one transaction each)", value: cReads, unit: "ops/s"),
            BenchResult(group: "raw SQLite", name: "GRDB: single-row write transactions", value: commits, unit: "ops/s",
                        note: ofC(commits, cCommits)),
            BenchResult(group: "raw SQLite", name: "GRDB: point reads (one read each)", value: reads, unit: "ops/s", note: ofC(reads, cReads)),
            BenchResult(group: "raw SQLite", name: "storage layer: point reads (database.pointRead)", value: storageReads, unit: "ops/s",
                        note: ofC(storageReads, cReads)),
            BenchResult(group: "raw SQLite", name: "storage layer: point reads, queued (database.read)", value: queuedReads, unit: "ops/s",
                        note: ofC(queuedReads, cReads)),
        ]
    }

    /// A Gatehouse database in `directory` (so the storage layer opens it) with a table `t` of
    /// `rows` 64-byte rows, for the point reads alone (`gatehouse-bench hot reads`, `c-reads`).
    static func prepare(in directory: URL, rows: Int = 0) throws -> String {
        let path = directory.appendingPathComponent("raw.sqlite").path
        try Gatehouse.open(path: path, options: .init(createIfMissing: true)).database.close()
        let pool = try DatabasePool(path: path)
        defer { try? pool.close() }
        try pool.write { db in
            try db.execute(sql: "CREATE TABLE t (id INTEGER PRIMARY KEY, v BLOB NOT NULL)")
            for _ in 0..<rows { try db.execute(sql: "INSERT INTO t (v) VALUES (?)", arguments: [Data(repeating: 7, count: 64)]) }
        }
        return path
    }

    /// Point reads through the storage layer, as the services' lookups by key read: `pointRead`
    /// (`queued`: `read`, the path of every other read, through GRDB's reader queue).
    static func storageLayerReads(path: String, rows: Int64, seconds: Double, queued: Bool = false) async throws -> Double {
        let database = try Gatehouse.open(path: path, options: .init()).database
        defer { try? database.close() }
        var next: Int64 = 0
        return try await Measure.rate(seconds: seconds) {
            next = next % rows + 1
            let id = next
            let read: @Sendable (any SQLTransaction) throws -> SQLRow? = { tx in try tx.fetchOne("SELECT v FROM t WHERE id = ?", [id]) }
            _ = try await queued ? database.read(read) : database.pointRead(read)
        }
    }

    /// Through GRDB, synchronously: inside an async function GRDB picks its async overloads,
    /// which would add a task hop to this baseline.
    private static func grdb(path: String, seconds: Double) throws -> (commits: Double, reads: Double, rows: Int64) {
        let pool = try DatabasePool(path: path)
        // GRDB's pools default to WAL with synchronous=NORMAL, as Gatehouse uses; said here to be sure.
        try pool.writeWithoutTransaction { db in try db.execute(sql: "PRAGMA synchronous = NORMAL") }
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
        return (commits, reads, rows)
    }
}
