import Foundation

import GatehouseCore
import GatehouseTestSupport
import Testing
import TerminalKit
@testable import GatehouseConsole

@Suite("Console: audit pane")
struct ConsoleAuditTests {
    @Test("events newest first, the chain verified in the header, a new event live after a tick, details pretty-printed")
    func liveAndDetail() async throws {
        let fixture = try ConsoleFixture(width: 120, height: 24)
        try await fixture.login("alice@example.com")
        await fixture.start()
        await fixture.press(.character("5"))
        // The header's states, driven step by step (a frame showing "verifying…" may never be
        // drawn on a fast or a loaded machine, so the test asserts the states, not a frame).
        #expect(AuditPane.chainStatus(nil)?.text == "chain: verifying…")
        let partial = try await fixture.gatehouse.audit.verify(after: nil, limit: 1)
        #expect(!partial.complete && AuditPane.chainStatus(partial)?.text == "chain: verifying… #\(partial.seq) · no signed checkpoint")
        let whole = try await fixture.gatehouse.audit.verify(after: partial, limit: 50_000)
        #expect(whole.complete && AuditPane.chainStatus(whole)?.text == "chain ✓ verified to #\(whole.seq) · no signed checkpoint")
        await fixture.settleChain()
        var lines = fixture.raw.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        #expect(lines[1].hasPrefix(" 1 Sessions   2 Tokens   3 Limits   4 Jobs   5 Audit"))
        #expect(lines[1].contains("chain ✓ verified to #"))
        #expect(lines[2].contains("SEQ ↓") && lines[2].contains("ACTION") && lines[2].contains("TARGET"))
        #expect(lines.dropFirst(3).prefix(3).contains { $0.contains("session.created") }, "\(fixture.raw)")

        // Another process commits: the event is on screen after the next tick.
        try await fixture.writer.audit.record(AuditEntry(actor: .operator(ConsoleFixture.operatorIdentity), action: "rate_limit.reset",
                                                         targetType: "rate_limit", targetId: "refresh:203.0.113.9",
                                                         details: ["blocked_total": "12"]))
        await fixture.tick()
        await fixture.settleChain()
        lines = fixture.raw.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        #expect(lines[3].contains("operator:oncall") && lines[3].contains("rate_limit.reset") && lines[3].contains("rate_limit:refre"),
                "\(fixture.raw)")

        await fixture.press(.home)
        await fixture.press(.enter)
        #expect(fixture.raw.contains("Audit event #"))
        #expect(fixture.raw.contains("\"blocked_total\" : \"12\""))
        #expect(fixture.raw.contains("\"ssh_client\" : \"203.0.113.9\""))
    }

    @Test("a changed row turns the header into 'chain BROKEN at #N'")
    func brokenChain() async throws {
        let fixture = try ConsoleFixture(width: 120, height: 24)
        try await fixture.login("alice@example.com")
        // Whoever holds the database drops the append-only guard first, then edits a row.
        let unguard = TestEngine.isSQLite ? "DROP TRIGGER audit_events_no_update"
                                          : "ALTER TABLE audit_events DISABLE TRIGGER audit_events_append_only"
        try TestEngine.rawExecute("\(unguard); UPDATE audit_events SET ip = '192.0.2.66' WHERE seq = 3", on: fixture.path)
        await fixture.start()
        await fixture.press(.character("5"))
        await fixture.settleChain()
        #expect(fixture.line(1).contains("chain BROKEN at #3"))
    }

    @Test("filters by actor, action or target text; end pages to the first event by keyset")
    func filterAndPaging() async throws {
        let fixture = try ConsoleFixture(width: 120, height: 24)
        for index in 0..<30 { try await fixture.login("user\(index)@example.com", ip: "198.51.100.\(index + 1)") }
        await fixture.start()
        await fixture.type(":audit user7@")
        await fixture.press(.enter)
        let rows = fixture.raw.split(separator: "\n").dropFirst(3).filter { $0.contains("user") || $0.contains("session") }
        #expect(!rows.isEmpty)
        #expect(fixture.line(1).contains("filter /user7@"))
        await fixture.press(.escape)
        await fixture.press(.end)
        let screen = fixture.raw.split(separator: "\n").map(String.init)
        #expect(screen.contains { $0.trimmingCharacters(in: .whitespaces).hasPrefix("1  ") })
    }
}

extension ConsoleFixture {
    /// Lets the chain verification catch up (it runs in steps beside the pane reads).
    func settleChain() async {
        for _ in 0..<5 { await tick() }
    }
}
