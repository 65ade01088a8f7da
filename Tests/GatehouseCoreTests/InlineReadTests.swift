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

    @Test("a file an exclusive-mode writer holds: the read is declined at once (busy_timeout 0), and served once the lock is gone")
    func locked() async throws {
        let directory = try TemporaryDirectory()
        let path = directory.path("locked.sqlite")
        // In WAL mode only a writer in exclusive locking mode keeps readers out (until it closes);
        // it can take that lock only while no other connection is open, so it comes first.
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

    @Test("the storage layer's pointRead is served inline (a session check too), and a read-only open has no inline readers")
    func servedThroughTheEngine() async throws {
        let (test, inline) = try await Self.fixture()
        inline.close()
        guard case .sqlite(let engine) = test.gatehouse.database.engine, let readers = engine.inline else {
            Issue.record("no inline readers on a writable SQLite open"); return
        }
        let before = readers.served.load(ordering: .relaxed)
        #expect(try await test.gatehouse.database.pointRead { tx in try tx.fetchScalar(String.self, "SELECT v FROM probe WHERE id = 3") } == "row 3")
        let (_, secret) = try await test.webLogin()
        _ = try await test.gatehouse.sessions.authenticate(anyOf: [secret.value])
        #expect(readers.served.load(ordering: .relaxed) >= before + 2)
        let readOnly = try GatehouseDatabase.open(path: test.path, options: TestEngine.options(readOnly: true))
        defer { try? readOnly.close() }
        guard case .sqlite(let console) = readOnly.engine else { return }
        #expect(console.inline == nil)
    }

    @Test("a schema changed by another connection: rows are read by the new column names, not by cached ones")
    func schemaChange() async throws {
        let (test, inline) = try await Self.fixture()
        defer { inline.close() }
        let read: (any SQLTransaction) throws -> SQLRow? = { tx in try tx.fetchOne("SELECT * FROM probe WHERE id = ?", [1]) }
        guard case .done(let before) = try inline.read(read) else { Issue.record("declined"); return }
        #expect(before?["v"] == .text("row 1"))
        // The same columns in the other order: a statement recompiled under cached names would swap them.
        try test.rawWrite("""
            CREATE TABLE probe2 (v TEXT NOT NULL, id INTEGER PRIMARY KEY); INSERT INTO probe2 (v, id) SELECT v, id FROM probe;
            DROP TABLE probe; ALTER TABLE probe2 RENAME TO probe
            """)
        guard case .done(let after) = try inline.read(read) else { Issue.record("declined"); return }
        #expect(after?["v"] == .text("row 1") && after?["id"] == .int(1), "\(String(describing: after))")
    }

    @Test("closing while a read runs: that read ends, its connection closes, and no read is served inline after")
    func closeDuringRead() async throws {
        let (_test, inline) = try await Self.fixture()
        defer { _ = _test }
        let value = try inline.read { tx -> String? in
            inline.close()
            return try tx.fetchScalar(String.self, "SELECT v FROM probe WHERE id = 2")
        }
        guard case .done(let text) = value else { Issue.record("the read under way was not finished"); return }
        #expect(text == "row 2")
        guard case .declined = try inline.read({ tx in try tx.fetchScalar(Int64.self, "SELECT 1") }) else {
            Issue.record("a read was served after close"); return
        }
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
