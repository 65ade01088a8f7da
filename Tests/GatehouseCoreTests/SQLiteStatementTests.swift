import Foundation
import GatehouseTestSupport
import GRDB
import Testing
@testable import GatehouseCore

/// Row statements on SQLite run through the C API on GRDB's cached statements
/// (`GRDBTransaction`): values must come back as they went in, and SQLite's refusals must reach
/// the callers as the `DatabaseError`s they classify (`StorageFault`, constraint checks).
@Suite("SQLite: statements through the C API", .sqliteOnly)
struct SQLiteStatementTests {
    @Test("values come back as stored: empty blob (not NULL), text holding NUL and emoji, Int64's extremes, doubles, NULL")
    func roundTrip() async throws {
        let database = try TestGatehouse().gatehouse.database
        try await database.write { tx in try tx.execute("CREATE TABLE probe (id INTEGER PRIMARY KEY, v)") }
        let values: [SQLValue] = [.blob(Data()), .blob(Data([0, 1, 255])), .text("a\u{0}b"), .text("ünï 👩‍💻"), .text(""),
                                  .int(.min), .int(.max), .double(-0.5), .double(1e300), .null]
        try await database.write { tx in
            for (id, value) in values.enumerated() { try tx.execute("INSERT INTO probe (id, v) VALUES (?, ?)", SQLArguments([.int(Int64(id)), value])) }
        }
        let rows = try await database.read { tx in try tx.fetchAll("SELECT v, typeof(v) AS kind FROM probe ORDER BY id") }
        #expect(rows.map { $0.values[0] } == values)
        #expect(rows.first?.values[1] == .text("blob"), "an empty blob is stored as a blob")
        #expect(rows.first?.columns.names == ["v", "kind"])
        // A statement that matches nothing, one row, and a limit of rows.
        #expect(try await database.read { tx in try tx.fetchOne("SELECT v FROM probe WHERE id = ?", [-1]) } == nil)
        #expect(try await database.read { tx in try tx.fetchAll("SELECT id FROM probe WHERE id < ?", [3]).count } == 3)
    }

    @Test("a constraint violation is SQLite's constraint error, and the connection goes on working")
    func constraint() async throws {
        let database = try TestGatehouse().gatehouse.database
        try await database.write { tx in try tx.execute("CREATE TABLE probe (id INTEGER PRIMARY KEY, v TEXT NOT NULL UNIQUE)") }
        try await database.write { tx in try tx.execute("INSERT INTO probe (v) VALUES (?)", ["a"]) }
        do {
            try await database.write { tx in try tx.execute("INSERT INTO probe (v) VALUES (?)", ["a"]) }
            Issue.record("a duplicate was inserted")
        } catch let error as DatabaseError {
            #expect(error.resultCode == .SQLITE_CONSTRAINT)
            #expect(error.extendedResultCode == .SQLITE_CONSTRAINT_UNIQUE)
            #expect(error.message?.contains("UNIQUE constraint failed") == true, "\(error)")
        }
        #expect(try await database.write { tx in try tx.execute("INSERT INTO probe (v) VALUES (?)", ["b"]) } == 1)
        #expect(try await database.read { tx in try tx.fetchColumn(String.self, "SELECT v FROM probe ORDER BY v") } == ["a", "b"])
    }

    @Test("the wrong number of arguments is an error that names the counts, never a crash or a NULL bound in silence")
    func argumentCount() async throws {
        let database = try TestGatehouse().gatehouse.database
        for arguments: SQLArguments in [[], [1, 2]] {
            do {
                _ = try await database.read { tx in try tx.fetchOne("SELECT ? AS v", arguments) }
                Issue.record("\(arguments.values.count) arguments were taken for one parameter")
            } catch let error as DatabaseError {
                #expect(error.resultCode == .SQLITE_MISUSE)
                #expect(error.message == "\(arguments.values.count) arguments for 1 parameters")
            }
        }
        #expect(try await database.read { tx in try tx.fetchOne("SELECT ? AS v", [7]) }?.values == [.int(7)])
    }

    @Test("a statement after its transaction was rolled back is refused, not committed on its own")
    func afterRollback() async throws {
        let database = try TestGatehouse().gatehouse.database
        try await database.write { tx in try tx.execute("CREATE TABLE probe (id INTEGER PRIMARY KEY)") }
        #expect(throws: (any Error).self) {
            try database.writeSync { tx in
                try tx.execute("ROLLBACK")
                try tx.execute("INSERT INTO probe (id) VALUES (1)")
            }
        }
        #expect(try await database.read { tx in try tx.fetchScalar(Int64.self, "SELECT count(*) FROM probe") } == 0)
    }

    @Test("row statements are told from the rest by their first word, whatever its case or the space before it")
    func rowStatements() {
        for sql in ["SELECT 1", "  select 1", "\n\tWITH x AS (SELECT 1) SELECT * FROM x", "(SELECT 1)", "insert into t values (1)",
                    "UPDATE t SET v = 1", "DELETE FROM t", "REPLACE INTO t VALUES (1)", "VALUES (1)"] {
            #expect(GRDBTransaction.isRowStatement(sql), "\(sql)")
        }
        for sql in ["CREATE TABLE t (v)", "PRAGMA user_version", "DROP TRIGGER x", "BEGIN", "SELECTED", "", "  ", "ÉSELECT 1"] {
            #expect(!GRDBTransaction.isRowStatement(sql), "\(sql)")
        }
    }
}
