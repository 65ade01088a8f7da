import GatehouseTestSupport
import Foundation
import GRDB
import Testing
@testable import GatehouseCore

@Suite("Audit log")
struct AuditLogTests {
    private func populate(_ test: TestGatehouse) async throws {
        for index in 0..<5 { _ = try await test.apiLogin("user\(index)@example.com") }
    }

    @Test("the chain verifies after ordinary use")
    func intact() async throws {
        let test = try TestGatehouse()
        try await populate(test)
        let result = try await test.gatehouse.audit.verify()
        #expect(result.isIntact)
        #expect(result.checked == (try await test.gatehouse.audit.tail(limit: 1000).count))
        #expect(result.checked > 20)
    }

    @Test("UPDATE and DELETE are refused by triggers")
    func appendOnly() async throws {
        let test = try TestGatehouse()
        try await populate(test)
        #expect(throws: (any Error).self) { try test.rawWrite("UPDATE audit_events SET outcome = 'failure' WHERE seq = 3") }
        #expect(throws: (any Error).self) { try test.rawWrite("DELETE FROM audit_events WHERE seq = 3") }
        #expect(try await test.gatehouse.audit.verify().isIntact)
    }

    @Test("a raw SQL change is detected at the row that was changed", .sqliteOnly)
    func tamperDetected() async throws {
        let test = try TestGatehouse()
        try await populate(test)
        try test.rawWrite("""
            DROP TRIGGER audit_events_no_update;
            UPDATE audit_events SET actor_id = 'someone-else' WHERE seq = 7;
            """)
        let result = try await test.gatehouse.audit.verify()
        #expect(result.firstBrokenSeq == 7)
        #expect(result.checked == 6)
        #expect(result.problem?.contains("content") == true)
    }

    @Test("a recomputed row hash is caught at the next row", .sqliteOnly)
    func rehashDetected() async throws {
        let test = try TestGatehouse()
        try await populate(test)
        // A careful attacker rewrites row 7 and fixes its own hash; row 8 still points at the old one.
        try test.rawWrite("""
            DROP TRIGGER audit_events_no_update;
            UPDATE audit_events SET hash = zeroblob(32) WHERE seq = 7;
            """)
        let result = try await test.gatehouse.audit.verify()
        #expect(result.firstBrokenSeq == 7)
    }

    @Test("deleted rows are detected, in the middle and at the end", .sqliteOnly)
    func deletionDetected() async throws {
        let test = try TestGatehouse()
        try await populate(test)
        let count = try await test.gatehouse.audit.tail(limit: 1000).count
        try test.rawWrite("DROP TRIGGER audit_events_no_delete; DELETE FROM audit_events WHERE seq = \(count);")
        let tail = try await test.gatehouse.audit.verify()
        #expect(tail.firstBrokenSeq == Int64(count))
        #expect(tail.problem?.contains("deleted from the end") == true)

        try test.rawWrite("DELETE FROM audit_events WHERE seq = 4")
        let middle = try await test.gatehouse.audit.verify()
        #expect(middle.firstBrokenSeq == 5)
        #expect(middle.problem?.contains("missing") == true)
    }

    @Test("a row inserted by hand below the chain's numbering (seq 0 or -1) is named by verify")
    func forgedRowBelowTheChain() async throws {
        let test = try TestGatehouse()
        try await populate(test)
        // INSERT is not refused by the append-only guard; the chain must catch it.
        try test.rawWrite("""
            INSERT INTO audit_events (seq, at, actor_type, action, outcome, prev_hash, hash)
            SELECT -1, at, actor_type, 'session.revoked', outcome, prev_hash, hash FROM audit_events WHERE seq = 1
            """)
        let result = try await test.gatehouse.audit.verify()
        #expect(result.firstBrokenSeq == -1, "\(result)")
        #expect(result.problem?.contains("outside the chain") == true, "\(result.problem ?? "")")
    }

    @Test("the operator identity comes from the OS user and SSH_CONNECTION")
    func operatorIdentity() {
        let identity = OperatorIdentity.current(via: "cli", environment: ["SSH_CONNECTION": "203.0.113.9 52144 10.0.0.5 22", "USER": "spoofed"])
        #expect(identity.sshClient == "203.0.113.9")
        #expect(identity.name != "spoofed")
        #expect(!identity.name.isEmpty)
        #expect(OperatorIdentity.current(via: "cli", environment: [:]).sshClient == nil)
    }
}
