import Foundation
import GatehouseTestSupport
import GRDB
import Synchronization
import Testing
@testable import GatehouseCore

/// Writes on the calling thread (`WriteCoalescer.inline`): a write that meets no other runs
/// there; one that would wait for a lock or outgrow its step budget is declined and queued,
/// and its caller sees one transaction either way.
@Suite("SQLite: writes on the calling thread", .sqliteOnly)
struct InlineWriteTests {
    struct Refused: Error {}

    static func fixture() async throws -> (TestGatehouse, GatehouseDatabase, WriteCoalescer) {
        let test = try TestGatehouse()
        // A lock held elsewhere is waited for as long as a test may take to let it go.
        var options = TestEngine.options()
        options.busyTimeout = 900
        let database = try Gatehouse.open(path: test.path, options: options, clock: test.clock).database
        guard case .sqlite(let engine) = database.engine else { throw Refused() }
        try await database.write { tx in try tx.execute("CREATE TABLE probe (id INTEGER PRIMARY KEY, n INTEGER NOT NULL, payload BLOB)") }
        return (test, database, engine.coalescer)
    }

    static func numbers(_ database: GatehouseDatabase) async throws -> [Int] {
        try await database.read { tx in try tx.fetchColumn(Int.self, "SELECT n FROM probe ORDER BY id") }
    }

    static let hundredThousandRows = "INSERT INTO probe (n) WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 100000) SELECT x FROM c"

    @Test("a lone write runs inline; its value, or its own error thrown once with nothing kept, is the caller's answer")
    func lone() async throws {
        let (_, database, _) = try await Self.fixture()
        let before = database.writeStatistics.inline
        #expect(try await database.write { tx in try tx.execute("INSERT INTO probe (n) VALUES (1)"); return 42 } == 42)
        #expect(database.writeStatistics.inline > before)
        let runs = Mutex(0)
        await #expect(throws: Refused.self) {
            try await database.write { tx in
                runs.withLock { $0 += 1 }
                try tx.execute("INSERT INTO probe (n) VALUES (2)")
                throw Refused()
            }
        }
        #expect(runs.withLock { $0 } == 1)
        // A constraint error inline: the transaction is rolled back, the connection usable.
        await #expect(throws: DatabaseError.self) {
            try await database.write { tx in
                try tx.execute("INSERT INTO probe (n) VALUES (3)")
                try tx.execute("INSERT INTO probe (id, n) VALUES (1, 0)")
            }
        }
        try await database.write { tx in try tx.execute("INSERT INTO probe (n) VALUES (4)") }
        #expect(try await Self.numbers(database) == [1, 4])
    }

    /// Waiting for another process's lock on a cooperative thread would stall every task
    /// scheduled there; the write is declined at once and waits on the writer queue.
    @Test("a write that finds the lock held by another process is declined inline and commits from the queue once it is free")
    func lockHeldElsewhere() async throws {
        let (test, database, coalescer) = try await Self.fixture()
        let holder = try WriteLockHolder(path: test.path)
        let runs = Mutex(0)
        let write = Task {
            try await database.write { tx in
                runs.withLock { $0 += 1 }
                try tx.execute("INSERT INTO probe (n) VALUES (7)")
            }
        }
        #expect(try await eventually { coalescer.declined.load(ordering: .relaxed) == 1 })
        holder.release()
        try await write.value
        #expect(runs.withLock { $0 } == 1)          // BEGIN IMMEDIATE failed before the body ran
        #expect(try await Self.numbers(database) == [7])
    }

    @Test("a write that outgrows the step budget is rolled back and run again from the queue: its work is kept once")
    func overBudget() async throws {
        let (_, database, coalescer) = try await Self.fixture()
        let runs = Mutex(0)
        let counted = try await database.write { tx in
            runs.withLock { $0 += 1 }
            try tx.execute(Self.hundredThousandRows)
            return try tx.fetchScalar(Int.self, "SELECT count(*) FROM probe")
        }
        #expect(counted == 100_000)
        #expect(runs.withLock { $0 } == 2 && coalescer.declined.load(ordering: .relaxed) == 1)
        #expect(try await database.read { tx in try tx.fetchScalar(Int.self, "SELECT count(*) FROM probe") } == 100_000)

        // A body that swallows the interruption is declined all the same, not committed half done
        // (once the queue that ran the last one is idle: else this one is queued at once).
        #expect(try await eventually { coalescer.isIdle })
        let swallowed = try await database.write { tx in
            try? tx.execute(Self.hundredThousandRows)
            try tx.execute("INSERT INTO probe (n) VALUES (-1)")
            return try tx.fetchScalar(Int.self, "SELECT count(*) FROM probe")
        }
        #expect(swallowed == 200_001)
        #expect(coalescer.declined.load(ordering: .relaxed) == 2)
        // And writes run inline again, with a fresh budget, once the queue has drained (its
        // thread may still be checkpointing the log those rows made).
        let before = database.writeStatistics.inline
        #expect(try await eventually {
            try await database.write { tx in try tx.execute("INSERT INTO probe (n) VALUES (0)") }
            return database.writeStatistics.inline > before
        })
    }

    /// SQLite's automatic checkpoint would run inside an inline commit, on a cooperative thread;
    /// it runs from the writer queue instead (`WALCheckpoints`), and must still run.
    @Test("the log is checkpointed though commits run inline, and when writes are synchronous", arguments: [false, true])
    func checkpoints(synchronous: Bool) async throws {
        let (test, database, _) = try await Self.fixture()
        // Each commit writes three pages or more (two of overflow): 1,500 of them would leave a
        // log of 18 MB or more; checkpointed every 1,000 pages, it stays near 4 MB.
        for n in 0..<1_500 {
            let insert = "INSERT INTO probe (n, payload) VALUES (?, randomblob(8000))"
            if synchronous {
                try database.writeSync { tx in try tx.execute(insert, [n]) }
            } else {
                try await database.write { tx in try tx.execute(insert, [n]) }
            }
        }
        let log = try FileManager.default.attributesOfItem(atPath: test.path + "-wal")[.size] as? Int ?? 0
        #expect(log > 0 && log < 8_000_000, "log of \(log) bytes")
        #expect(try await database.read { tx in try tx.fetchScalar(Int.self, "SELECT count(*) FROM probe") } == 1_500)
    }
}
