import Foundation
import GatehouseTestSupport
import GRDB
import Synchronization
import Testing
@testable import GatehouseCore

/// Point reads on the calling thread (`InlineReaders`): served there while they stay point
/// reads, declined (and then queued by `pointRead`) when they would cost more or wait.
@Suite("SQLite: point reads on the calling thread", .sqliteOnly)
struct InlineReadTests {
    /// A Gatehouse file with a table of `rows` rows, and inline readers on it.
    static func fixture(rows: Int = 100, capacity: Int = 2) async throws -> (TestGatehouse, InlineReaders) {
        let test = try TestGatehouse()
        try await test.gatehouse.database.write { tx in
            try tx.execute("CREATE TABLE probe (id INTEGER PRIMARY KEY, v TEXT NOT NULL)")
            for id in 1...rows { try tx.execute("INSERT INTO probe (id, v) VALUES (?, ?)", [Int64(id), "row \(id)"]) }
        }
        return (test, InlineReaders(path: test.path, capacity: capacity, prepare: { _ in }))
    }

    static let count = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c LIMIT 1000000) SELECT count(*) FROM c"

    @Test("a point read is served inline and sees the latest commit")
    func served() async throws {
        let (test, inline) = try await Self.fixture()
        defer { inline.close() }
        guard case .done(let first) = try inline.read({ tx in try tx.fetchScalar(String.self, "SELECT v FROM probe WHERE id = ?", [7]) }) else {
            Issue.record("a point read was declined"); return
        }
        #expect(first == "row 7")
        try await test.gatehouse.database.write { tx in try tx.execute("UPDATE probe SET v = 'changed' WHERE id = 7") }
        guard case .done(let second) = try inline.read({ tx in try tx.fetchScalar(String.self, "SELECT v FROM probe WHERE id = ?", [7]) }) else {
            Issue.record("a point read was declined"); return
        }
        #expect(second == "changed")
        #expect(inline.served.load(ordering: .relaxed) == 2 && inline.declined.load(ordering: .relaxed) == 0)
    }

    @Test("a read past the step budget is interrupted and declined; the connection serves the next point read; pointRead still answers it")
    func budget() async throws {
        let (test, inline) = try await Self.fixture()
        defer { inline.close() }
        guard case .declined = try inline.read({ tx in try tx.fetchScalar(Int64.self, Self.count) }) else {
            Issue.record("a million-row scan ran inline"); return
        }
        guard case .done(let value) = try inline.read({ tx in try tx.fetchScalar(String.self, "SELECT v FROM probe WHERE id = 1") }) else {
            Issue.record("the reader did not recover from its interruption"); return
        }
        #expect(value == "row 1")
        // Through the storage layer, the same long read is answered (by the pool).
        #expect(try await test.gatehouse.database.pointRead { tx in try tx.fetchScalar(Int64.self, Self.count) } == 1_000_000)
    }

    @Test("with every reader in use, a read is declined at once instead of waiting")
    func noFreeReader() async throws {
        let (test, inline) = try await Self.fixture(capacity: 1)
        defer { inline.close(); _ = test }
        let nested = try inline.read { tx -> Bool in
            guard case .declined = try inline.read({ tx in try tx.fetchScalar(Int64.self, "SELECT 1") }) else { return false }
            return true
        }
        guard case .done(true) = nested else { Issue.record("the nested read was not declined: \(nested)"); return }
    }

    @Test("a read that meets a lock is declined at once (busy_timeout 0), never waits on the caller's thread")
    func locked() async throws {
        let directory = try TemporaryDirectory()
        let path = directory.path("locked.sqlite")
        // A writer in exclusive locking mode keeps every other connection out until it closes.
        let holder = try DatabaseQueue(path: path)
        try holder.inDatabase { db in
            try db.execute(sql: """
                PRAGMA journal_mode = WAL; PRAGMA locking_mode = EXCLUSIVE;
                CREATE TABLE probe (id INTEGER PRIMARY KEY, v TEXT NOT NULL); INSERT INTO probe VALUES (1, 'held')
                """)
        }
        let inline = InlineReaders(path: path, capacity: 1, prepare: { _ in })
        defer { inline.close() }
        let read: (any SQLTransaction) throws -> String? = { tx in try tx.fetchScalar(String.self, "SELECT v FROM probe WHERE id = 1") }
        guard case .declined = try inline.read(read) else { Issue.record("a read went past an exclusive lock"); return }
        try holder.close()
        guard case .done(let value) = try inline.read(read) else { Issue.record("the read was not served once the lock was gone"); return }
        #expect(value == "held")
    }

    @Test("an error of the read itself reaches the caller as it is, and is not run again")
    func bodyError() async throws {
        let (test, inline) = try await Self.fixture()
        defer { inline.close() }
        struct Refused: Error {}
        final class Runs: Sendable { let count = Atomic<Int>(0) }
        let runs = Runs()
        await #expect(throws: Refused.self) {
            _ = try await test.gatehouse.database.pointRead { _ -> Int in runs.count.add(1, ordering: .relaxed); throw Refused() }
        }
        #expect(runs.count.load(ordering: .relaxed) == 1)
        #expect(throws: DatabaseError.self) { _ = try inline.read { tx in try tx.fetchOne("SELECT nothing FROM nowhere") } }
    }
}
