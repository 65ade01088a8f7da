import Foundation
import GatehouseTestSupport
import GRDB
import Testing
@testable import GatehouseCore

@Suite("Storage")
struct StorageTests {
    @Test("a new file (and its -wal and -shm) is 0600, WAL, synchronous NORMAL, foreign keys on, busy timeout 5 s", .sqliteOnly)
    func newFileSettings() async throws {
        let test = try TestGatehouse()
        _ = try await test.apiLogin()
        for path in [test.path, test.path + "-wal", test.path + "-shm"] {
            let mode = try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? NSNumber
            #expect(mode?.uint16Value == 0o600, "\(path)")
        }
        let pragmas = try test.gatehouse.database.pragmas()
        #expect(pragmas["journal_mode"] == "wal")
        #expect(pragmas["synchronous"] == "1")
        #expect(pragmas["foreign_keys"] == "1")
        #expect(pragmas["busy_timeout"] == "5000")
    }

    @Test("synchronous can be FULL", .sqliteOnly)
    func synchronousFull() throws {
        let directory = try TemporaryDirectory()
        let database = try GatehouseDatabase.open(path: directory.path("db"), options: .init(createIfMissing: true, synchronous: .full))
        #expect(try database.pragmas()["synchronous"] == "2")
    }

    @Test("a missing file is refused unless creation was asked for")
    func missingFile() throws {
        let directory = try TemporaryDirectory()
        let path = directory.path("absent.sqlite")
        #expect(throws: DatabaseOpenError.missing(path: path)) { try GatehouseDatabase.open(path: path) }
        #expect(!FileManager.default.fileExists(atPath: path))
    }

    @Test("a file that is not SQLite is refused with a clear message and left untouched")
    func notSQLite() throws {
        let directory = try TemporaryDirectory()
        let path = directory.path("notes.txt")
        let content = Data(String(repeating: "these are not the bytes of a database\n", count: 200).utf8)
        try content.write(to: URL(fileURLWithPath: path))
        #expect(throws: DatabaseOpenError.notADatabase(path: path)) { try GatehouseDatabase.open(path: path) }
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == content)
        #expect(DatabaseOpenError.notADatabase(path: path).description.contains("not an SQLite database"))
    }

    @Test("a corrupt Gatehouse file is refused, not crashed on", .sqliteOnly)
    func corruptFile() throws {
        let test = try TestGatehouse()
        try test.gatehouse.database.close()
        // Fold the WAL into the main file, so that the damage below is not masked by it.
        let queue = try DatabaseQueue(path: test.path)
        try queue.writeWithoutTransaction { db in _ = try db.checkpoint(.truncate) }
        try queue.close()
        // Keep SQLite's header but overwrite the schema pages.
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: test.path))
        try handle.seek(toOffset: 100)
        handle.write(Data(repeating: 0xA5, count: 8000))
        try handle.close()
        #expect(throws: DatabaseOpenError.self) { try GatehouseDatabase.open(path: test.path) }
    }

    @Test("a database written by a newer binary is refused, naming the unknown migration", .sqliteOnly)
    func newerSchema() throws {
        let test = try TestGatehouse()
        try test.rawWrite("INSERT INTO grdb_migrations (identifier) VALUES ('v99-from-the-future')")
        #expect(throws: DatabaseOpenError.newerSchema(path: test.path, unknownMigrations: ["v99-from-the-future"])) {
            try GatehouseDatabase.open(path: test.path)
        }
        #expect(DatabaseOpenError.newerSchema(path: "x", unknownMigrations: ["v99"]).description.contains("upgrade"))
    }

    @Test("another application's SQLite file is refused rather than migrated", .sqliteOnly)
    func foreignDatabase() throws {
        let directory = try TemporaryDirectory()
        let path = directory.path("other.sqlite")
        let queue = try DatabaseQueue(path: path)
        try queue.write { db in try db.execute(sql: "CREATE TABLE invoices (id INTEGER PRIMARY KEY)") }
        try queue.close()
        #expect(throws: DatabaseOpenError.notAGatehouseDatabase(path: path)) { try GatehouseDatabase.open(path: path) }
    }

    @Test("read-only opens read and refuse writes")
    func readOnly() async throws {
        let test = try TestGatehouse()
        _ = try await test.apiLogin()
        let reader = try Gatehouse.open(path: test.path, options: TestEngine.options(readOnly: true), clock: test.clock)
        #expect(try await reader.sessions.list().count == 1)
        await #expect(throws: (any Error).self) {
            try await reader.sessions.revoke(handle: "ses_whatever", by: .system)
        }
    }

    @Test("a writer blocked past the busy timeout gets SQLITE_BUSY, not a hang", .sqliteOnly)
    func busyTimeout() async throws {
        let test = try TestGatehouse()
        let other = try GatehouseDatabase.open(path: test.path, options: .init(busyTimeout: 0.2))
        let holder = try DatabaseQueue(path: test.path)
        try await holder.writeWithoutTransaction { db in
            try db.execute(sql: "BEGIN IMMEDIATE")
            let started = Date()
            #expect(throws: DatabaseError.self) {
                try other.writeSync { tx in try tx.execute("INSERT INTO outbox (created_at, recipient, subject, body) VALUES (0, 'a', 'b', 'c')") }
            }
            #expect(Date().timeIntervalSince(started) >= 0.15)
            try db.execute(sql: "ROLLBACK")
        }
    }

    @Test("the lock wait ends at its deadline: a batch whose oldest request arrived a bound ago gives up at the first busy call", .sqliteOnly)
    func lockWaitDeadline() throws {
        let wait = LockWait(seconds: 5)
        guard case .callback(let busy) = wait.busyMode else { Issue.record("not a callback"); return }
        // No deadline: the first busy call of a wait keeps waiting.
        #expect(busy(0))
        // A deadline already passed (the request queued behind a batch that waited): no second wait.
        #expect(wait.withDeadline(.now - .seconds(1)) { busy(0) } == false)
        #expect(wait.withDeadline(.now + .seconds(60)) { busy(3) })
    }

    @Test("writes queued while another connection holds the lock each fail (SQLITE_BUSY), and the lock's release lets the next one in", .sqliteOnly)
    func queuedWritesUnderALock() async throws {
        let test = try TestGatehouse()
        let other = try GatehouseDatabase.open(path: test.path, options: .init(busyTimeout: 0.5))
        let insert = "INSERT INTO outbox (created_at, recipient, subject, body) VALUES (0, 'a', 'b', 'c')"
        let holder = try WriteLockHolder(path: test.path)
        let results = await withTaskGroup(of: Bool.self) { group in
            for _ in 0..<3 {
                group.addTask { (try? await other.write { tx in try tx.execute(insert) }) != nil }
            }
            return await group.reduce(into: []) { $0.append($1) }
        }
        #expect(results == [false, false, false])
        holder.release()
        try await other.write { tx in try tx.execute(insert) }
    }
}
