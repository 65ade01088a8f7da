import Foundation
import GatehouseCore
import GatehouseTestSupport
import Testing
import TerminalKit
@testable import GatehouseConsole

/// Marks and bulk actions, `:revoke-before`, and `y` on the in-memory backend.
@Suite("Console: marks, bulk actions, revoke-before and copy")
struct ConsoleMarksTests {
    @Test("past five marked rows the confirmation asks for the verb typed; esc clears the marks; read-only has no marks")
    func typedPastThreshold() async throws {
        let fixture = try ConsoleFixture()
        for index in 0..<7 { try await fixture.login("m\(index)@example.com") }
        await fixture.start()
        for _ in 0..<7 { await fixture.press(.character(" ")) }
        #expect(fixture.line(1).contains("7 marked"))
        await fixture.press(.character("d"))
        #expect(fixture.raw.contains("Revoke 7 marked sessions?") && fixture.raw.contains("…and 2 more") && fixture.raw.contains("Type revoke to confirm."))
        // y alone does not confirm a typed confirmation.
        await fixture.press(.character("y"), .enter)
        #expect(try await fixture.writer.sessions.countActive(issuedBefore: .distantFuture, email: nil) == 7)
        await fixture.press(.escape)
        #expect(fixture.line(1).contains("7 marked"), "cancelling keeps the marks")
        await fixture.press(.character("d"))
        await fixture.type("revoke")
        await fixture.press(.enter)
        #expect(fixture.statusLine.contains("revoked 7 of 7 sessions"), "\(fixture.statusLine)")
        #expect(!fixture.line(1).contains("marked"))
        let summary = try #require(try await fixture.writer.audit.tail(limit: 1).first)
        #expect(summary.action == "sessions.bulk_revoked" && summary.details?.contains("\"targets\":\"7\"") == true)

        await fixture.press(.character("2"), .character(" "), .character(" "))
        #expect(fixture.line(1).contains("2 marked"))
        await fixture.press(.escape)
        #expect(!fixture.line(1).contains("marked") && fixture.statusLine.contains("marks cleared"))

        let readOnly = try ConsoleFixture(readOnly: true)
        await readOnly.start()
        await readOnly.press(.character(" "))
        #expect(readOnly.statusLine.contains("read-only"), "\(readOnly.statusLine)")
    }

    @Test("a marked bucket stays marked while refusals move it in the listing; marks go when the filter changes")
    func marksFollowTheRow() async throws {
        let fixture = try ConsoleFixture()
        let tight = RateLimitPolicy(name: "refresh", limit: 1, period: 60)
        for key in ["203.0.113.1", "203.0.113.2"] { _ = try await fixture.writer.rateLimits.check(tight, key: key) }
        await fixture.start()
        await fixture.press(.character("3"), .character(" "))
        #expect(fixture.line(1).contains("1 marked"))
        // Refusals change the marked bucket's blocked count, and with it its place in the listing.
        for _ in 0..<3 { _ = try await fixture.writer.rateLimits.check(tight, key: "203.0.113.2") }
        await fixture.tick()
        await fixture.press(.character("R"))
        #expect(fixture.raw.contains("Reset 1 marked rate-limit bucket?"), "\(fixture.raw)")
        await fixture.press(.character("n"), .character("/"))
        await fixture.type("203")
        await fixture.press(.enter)
        #expect(!fixture.line(1).contains("marked"), "\(fixture.line(1))")
    }

    @Test("a confirmation that needed a read does not open over a prompt the operator is typing into")
    func confirmationWaitsForNoOverlay() async throws {
        let fixture = try ConsoleFixture()
        try await fixture.login("a@example.com")
        await fixture.start()
        let cutoff = Timestamp.iso8601(fixture.clock.now())
        fixture.app.send(.confirm(ConfirmDialog(title: "Revoke before", lines: ["Revoke the sessions?"]),
                                  .revokeIssuedBefore(cutoff: fixture.clock.now(), email: nil)))
        await fixture.press()
        #expect(fixture.raw.contains("Revoke before"))
        await fixture.press(.escape, .character(":"))
        fixture.app.send(.confirm(ConfirmDialog(title: "Revoke before", lines: ["Revoke the sessions?"]),
                                  .revokeIssuedBefore(cutoff: fixture.clock.now(), email: nil)))
        await fixture.press()
        #expect(fixture.statusLine.hasPrefix(":"), "the prompt stays: \(fixture.statusLine)")
        await fixture.press(.escape)
        #expect(fixture.statusLine.contains("not asked"), "\(fixture.statusLine)")
        await fixture.command("revoke-before 2999-01-01")
        #expect(fixture.statusLine.contains("is in the future"), "\(cutoff) \(fixture.statusLine)")
    }

    @Test(":revoke-before TIME asks for 'all' typed and revokes only older sessions; with EMAIL only that user's")
    func revokeBefore() async throws {
        let fixture = try ConsoleFixture()
        let old = try await fixture.login("old@example.com")
        let alice = try await fixture.login("alice@example.com")
        fixture.clock.advance(by: 120)
        let cutoff = Timestamp.iso8601(fixture.clock.now().addingTimeInterval(-60))
        let fresh = try await fixture.login("alice@example.com")
        await fixture.start()
        await fixture.command("revoke-before \(cutoff) alice@example.com")
        #expect(fixture.raw.contains("Revoke the 1 active session(s) of alice@example.com created before"), "\(fixture.raw)")
        await fixture.press(.character("y"))
        func state(_ login: Login) async throws -> Session.State? { try await fixture.writer.sessions.summary(handle: login.session.handle)?.session.state }
        #expect(try await state(alice) == .revoked)
        #expect(try await state(fresh) == .active)
        #expect(try await state(old) == .active)

        await fixture.command("revoke-before \(cutoff)")
        #expect(fixture.raw.contains("of EVERY user created before"))
        await fixture.type("all")
        await fixture.press(.enter)
        #expect(try await state(old) == .revoked)
        #expect(try await state(fresh) == .active)

        await fixture.command("revoke-before yesterday")
        #expect(fixture.statusLine.contains("ISO 8601"), "\(fixture.statusLine)")
    }

    @Test("y copies a handle, every marked row's handle, and an audit event as JSON")
    func copy() async throws {
        let fixture = try ConsoleFixture()
        let first = try await fixture.login("a@example.com")
        let second = try await fixture.login("b@example.com")
        await fixture.start()
        await fixture.press(.character("y"))
        #expect(fixture.backend.clipboard.last == second.session.handle)
        await fixture.press(.character("k"), .character(" "), .character(" "), .character("y"))
        #expect(fixture.backend.clipboard.last == "\(second.session.handle)\n\(first.session.handle)")
        await fixture.press(.character("5"), .character("y"))
        let json = try #require(fixture.backend.clipboard.last)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
        #expect(object["action"] as? String == "session.created" && object["target_id"] as? String == second.session.handle)
        #expect(fixture.statusLine.contains("copied audit event #"))
    }
}
