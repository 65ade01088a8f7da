import GatehouseTestSupport
import Foundation
import GRDB
import Testing
@testable import GatehouseCore

@Suite("Group commit", .sqliteOnly)
struct WriteCoalescerTests {
    struct Refused: Error {}

    @Test("concurrent writes share transactions, yet each commits or rolls back alone")
    func isolation() async throws {
        let fixture = try TestGatehouse()
        // Waits for the write lock as long as the test may need (see the holder below).
        var options = TestEngine.options()
        options.busyTimeout = 900
        let database = try Gatehouse.open(path: fixture.path, options: options, clock: fixture.clock).database
        guard case .sqlite(let engine) = database.engine else { return }
        try await database.write { tx in try tx.execute("CREATE TABLE probe (id INTEGER PRIMARY KEY, n INTEGER NOT NULL)") }
        // Writes that come one at a time run inline, each its own transaction; so that these
        // share batches, another connection holds the lock until all 400 are queued.
        let holder = try WriteLockHolder(path: fixture.path)
        let outcomes = await withTaskGroup(of: (Int, Bool).self) { group in
            for n in 0..<400 {
                group.addTask {
                    do {
                        try await database.write { tx in
                            try tx.execute("INSERT INTO probe (n) VALUES (?)", [n])
                            // Every third request fails after writing: its row must not survive.
                            if n % 3 == 0 { throw Refused() }
                            // A constraint error inside one request must not poison the others.
                            if n % 7 == 0 { try tx.execute("INSERT INTO probe (id, n) VALUES (1, 0)") }
                        }
                        return (n, true)
                    } catch {
                        return (n, false)
                    }
                }
            }
            _ = try? await eventually { engine.coalescer.writesInFlight == 400 }
            holder.release()
            return await group.reduce(into: [:]) { $0[$1.0] = $1.1 }
        }
        let stored = Set(try await database.read { tx in try tx.fetchColumn(Int.self, "SELECT n FROM probe") })
        let expected = Set((0..<400).filter { $0 % 3 != 0 && ($0 % 7 != 0 || $0 == 0) })
        // n = 7, 14, … fail on the duplicate id unless id 1 is free at that moment; whichever
        // happened, the answer each caller got must match what is stored.
        for n in 0..<400 {
            #expect(outcomes[n] == stored.contains(n), "request \(n): answered \(outcomes[n]!), stored \(stored.contains(n))")
        }
        #expect(stored.isSuperset(of: expected.filter { $0 % 7 != 0 }))
        #expect(stored.isDisjoint(with: Set((0..<400).filter { $0 % 3 == 0 })))
        // And they really were batched (otherwise this test would prove nothing).
        let statistics = database.writeStatistics
        #expect(statistics.requests >= 401)
        #expect(statistics.transactions < statistics.requests / 2, "\(statistics)")
    }

    @Test("values come back to the request that computed them")
    func results() async throws {
        let fixture = try TestGatehouse()
        let database = fixture.gatehouse.database
        let values = try await withThrowingTaskGroup(of: (Int, Int).self) { group in
            for n in 0..<200 {
                group.addTask { (n, try await database.write { tx in try tx.fetchScalar(Int.self, "SELECT ? * 2", [n])! }) }
            }
            return try await group.reduce(into: [:]) { $0[$1.0] = $1.1 }
        }
        #expect(values.allSatisfy { $0.value == $0.key * 2 })
    }

    @Test("the audit chain stays intact when appends are batched")
    func auditChain() async throws {
        let fixture = try TestGatehouse()
        let audit = fixture.gatehouse.audit
        try await withThrowingTaskGroup(of: Void.self) { group in
            for n in 0..<300 {
                group.addTask { try await audit.record(AuditEntry(actor: .system, action: "test.batched", details: ["n": String(n)])) }
            }
            try await group.waitForAll()
        }
        let verification = try await audit.verify()
        #expect(verification.isIntact)
        #expect(verification.checked >= 300)
    }
}
