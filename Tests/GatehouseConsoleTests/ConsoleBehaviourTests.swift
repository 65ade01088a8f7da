import GatehouseTestSupport
import Foundation
import GatehouseCore
import Testing
import TerminalKit
@testable import GatehouseConsole

@Suite("Console behaviour")
struct ConsoleBehaviourTests {
    @Test("rows committed elsewhere appear on the next tick, highlighted, with the selection kept", .sqliteOnly)
    func liveUpdates() async throws {
        let fixture = try ConsoleFixture()
        let first = try await fixture.login("a@example.com")
        let second = try await fixture.login("b@example.com")
        await fixture.start()
        await fixture.press(.down)
        #expect(fixture.line(4).contains(first.session.handle))
        #expect(fixture.style(x: 0, y: 4) == fixture.themed(\.selection))

        let third = try await fixture.login("c@example.com")
        await fixture.tick()
        #expect(fixture.line(3).contains(third.session.handle))
        #expect(fixture.line(4).contains(second.session.handle))
        // The selection stayed on the same session, which moved down a row.
        #expect(fixture.style(x: 0, y: 5) == fixture.themed(\.selection))
        #expect(fixture.line(5).contains(first.session.handle))
        // The new row is highlighted, for a while.
        #expect(fixture.style(x: 0, y: 3) == fixture.themed(\.newRow))
        fixture.clock.advance(by: 3)
        await fixture.tick()
        await fixture.press()
        #expect(fixture.style(x: 0, y: 3) == fixture.themed(\.text))

        // A change to a visible row is highlighted as changed.
        try await fixture.writer.sessions.revoke(handle: second.session.handle, by: .system)
        await fixture.tick()
        #expect(fixture.line(4).contains("revoked"))
        #expect(fixture.style(x: 0, y: 4) == fixture.themed(\.changedRow))
    }

    @Test("PostgreSQL: a row committed through another connection is on screen without a tick (the NOTIFY pushes it)", .postgresOnly)
    func pushedUpdates() async throws {
        // The next tick is an hour away: only the LISTEN connection's notification can bring the row.
        let fixture = try ConsoleFixture(refreshInterval: 3600)
        try await fixture.login("a@example.com")
        await fixture.start()
        let late = try await fixture.login("late@example.com")
        let deadline = ContinuousClock.now + .seconds(120)
        while !fixture.raw.contains(late.session.handle) && ContinuousClock.now < deadline {
            await fixture.app.settle()
            fixture.app.render()
            try await Task.sleep(for: .milliseconds(10))
        }
        #expect(fixture.line(3).contains(late.session.handle), "\(fixture.raw)")
    }

    @Test("with the mouse on, a click selects a row and the wheel moves the selection")
    func mouse() async throws {
        let fixture = try ConsoleFixture()
        for name in ["a", "b", "c"] { try await fixture.login("\(name)@example.com") }
        await fixture.start()
        fixture.app.send(.mouse(button: .left, x: 10, y: 5))
        await fixture.press()
        #expect(fixture.style(x: 0, y: 5) == fixture.themed(\.selection))
        fixture.app.send(.mouse(button: .wheelUp, x: 10, y: 5))
        await fixture.press()
        #expect(fixture.style(x: 0, y: 4) == fixture.themed(\.selection))
    }

    @Test("p pauses live updates and resumes them")
    func pause() async throws {
        let fixture = try ConsoleFixture()
        try await fixture.login("a@example.com")
        await fixture.start()
        await fixture.press(.character("p"))
        #expect(fixture.line(0).contains("PAUSED"))
        let late = try await fixture.login("late@example.com")
        await fixture.tick()
        #expect(!fixture.screen.contains("late@example.com"))
        await fixture.press(.character("p"))
        #expect(fixture.line(3).contains(late.session.handle))
    }

    @Test("d asks, naming the session; n cancels and changes nothing")
    func revokeCancelled() async throws {
        let fixture = try ConsoleFixture()
        let login = try await fixture.login("alice@example.com")
        await fixture.start()
        await fixture.press(.character("d"))
        #expect(fixture.raw.contains("Revoke session \(login.session.handle) of alice@example.com?"))
        await fixture.press(.character("n"))
        #expect(fixture.screen.contains("cancelled; nothing was changed"))
        #expect(try await fixture.writer.sessions.summary(handle: login.session.handle)?.session.state == .active)
    }

    @Test("d then y revokes through Core, audited with the operator and SSH client")
    func revokeConfirmed() async throws {
        let fixture = try ConsoleFixture()
        let login = try await fixture.login("alice@example.com")
        await fixture.start()
        await fixture.press(.character("d"), .character("y"))
        #expect(fixture.raw.contains("revoked session \(login.session.handle)"))
        #expect(fixture.line(3).contains("revoked"))
        let summary = try await fixture.writer.sessions.summary(handle: login.session.handle)
        #expect(summary?.session.state == .revoked && summary?.session.endedBy == "operator:oncall@203.0.113.9")
        let event = try #require(try await fixture.writer.audit.tail(limit: 1).last)
        #expect(event.action == "session.revoked" && event.actorId == "oncall" && event.ip == "203.0.113.9")
        #expect(event.details?.contains(#""via":"console""#) == true)
    }

    @Test("D needs the user's email typed; a wrong text does nothing")
    func revokeUser() async throws {
        let fixture = try ConsoleFixture()
        try await fixture.login("bob@example.com")
        try await fixture.login("bob@example.com", kind: .web)
        try await fixture.login("carol@example.com")
        await fixture.start()
        await fixture.press(.down)  // bob's web session
        await fixture.press(.character("D"))
        #expect(fixture.screen.contains("Revoke EVERY active session of bob@example.com"))
        await fixture.press(.character("y"), .enter)
        #expect(fixture.screen.contains("does not match"))
        await fixture.press(.backspace)
        await fixture.type("bob@example.com")
        await fixture.press(.enter)
        #expect(fixture.screen.contains("revoked 2 session(s) of bob@example.com"))
        #expect(try await fixture.writer.sessions.list(.init(state: .active)).map(\.email) == ["carol@example.com"])
    }

    @Test("the tokens pane revokes one token with d and a family with f")
    func revokeTokens() async throws {
        let fixture = try ConsoleFixture()
        let login = try await fixture.login("dan@example.com")
        guard case .tokens(let pair) = login.credential else { return }
        await fixture.start()
        await fixture.press(.tab)
        #expect(fixture.screen.contains("FINGERPRINT"))
        await fixture.press(.character("d"))
        #expect(fixture.raw.contains("Revoke refresh token \(pair.refreshToken.hash.fingerprint) of dan@example.com?"))
        await fixture.press(.enter)
        #expect(fixture.raw.contains("revoked refresh token \(pair.refreshToken.hash.fingerprint)"))
        await #expect(throws: AuthError.self) { try await fixture.writer.refreshTokens.refresh(pair.refreshToken.value) }

        let other = try await fixture.login("dan@example.com")
        // The new family is the newest: home selects it.
        await fixture.press(.home)
        await fixture.press(.character("f"), .character("y"))
        #expect(fixture.raw.contains("revoked 1 token(s) of family \(other.session.refreshFamily!)"))
    }

    @Test("/ filters by regular expression, ! inverts, a bad pattern says so, esc clears")
    func filter() async throws {
        let fixture = try ConsoleFixture()
        for name in ["anna", "ben", "bea", "carl"] { try await fixture.login("\(name)@example.com") }
        await fixture.start()
        await fixture.press(.character("/"))
        await fixture.type("^ses_.* b")
        #expect(fixture.statusLine.hasPrefix("/^ses_.* b"))
        await fixture.press(.enter)
        #expect(fixture.screen.contains("bea@example.com") && fixture.screen.contains("ben@example.com"))
        #expect(!fixture.screen.contains("anna@example.com") && !fixture.screen.contains("carl@example.com"))
        #expect(fixture.line(1).contains("filter /^ses_.* b"))

        await fixture.press(.character("/"), .home, .character("!"), .enter)
        #expect(fixture.screen.contains("anna@example.com") && !fixture.screen.contains("ben@example.com"))

        await fixture.press(.escape)
        #expect(fixture.screen.contains("ben@example.com") && fixture.screen.contains("anna@example.com"))

        await fixture.press(.character("/"))
        await fixture.type("([")
        await fixture.press(.enter)
        #expect(fixture.screen.contains("not a valid regular expression"))
        #expect(fixture.screen.contains("anna@example.com"))
    }

    @Test(": commands switch panes, narrow tokens to a user and quit; unknown ones say so")
    func commands() async throws {
        let fixture = try ConsoleFixture()
        try await fixture.login("erin@example.com")
        try await fixture.login("fay@example.com")
        await fixture.start()
        await fixture.press(.character(":"))
        await fixture.type("tokens fay@example.com")
        await fixture.press(.enter)
        #expect(fixture.screen.contains("FINGERPRINT") && fixture.screen.contains("fay@example.com"))
        #expect(!fixture.screen.contains("erin@example.com"))
        #expect(fixture.line(1).contains("user fay@example.com"))
        await fixture.press(.character(":"))
        await fixture.type("bogus")
        await fixture.press(.enter)
        #expect(fixture.screen.contains("unknown command :bogus"))
        await fixture.press(.character(":"))
        await fixture.type("sessions")
        await fixture.press(.enter)
        #expect(fixture.screen.contains("HANDLE"))
        await fixture.press(.character(":"), .character("q"), .enter)
        #expect(fixture.app.isFinished)
    }

    @Test("paging moves a window of rows: page down, end, home, and scrolling past the edge")
    func paging() async throws {
        let fixture = try ConsoleFixture(width: 100, height: 24)
        var handles: [String] = []
        for index in 0..<45 { handles.insert(try await fixture.login("user\(index)@example.com").session.handle, at: 0) }
        await fixture.start()
        // 19 rows fit: 24 less the header, tabs, column titles, status and hints.
        let window = 19
        #expect(fixture.line(3).contains(handles[0]))
        #expect(fixture.line(3 + window - 1).contains(handles[window - 1]))
        await fixture.press(.pageDown)
        #expect(fixture.line(3).contains(handles[window]))
        await fixture.press(.end)
        #expect(fixture.line(3 + window - 1).contains(handles[44]))
        #expect(fixture.style(x: 0, y: 3 + window - 1) == fixture.themed(\.selection))
        await fixture.press(.pageUp)
        #expect(fixture.line(3 + window - 1).contains(handles[44 - window]))
        await fixture.press(.home)
        #expect(fixture.line(3).contains(handles[0]))
        for _ in 0..<window { await fixture.press(.down) }
        // One past the bottom: the window slid by one and the new bottom row is selected.
        #expect(fixture.line(3).contains(handles[1]))
        #expect(fixture.line(3 + window - 1).contains(handles[window]))
        #expect(fixture.style(x: 0, y: 3 + window - 1) == fixture.themed(\.selection))
        await fixture.press(.up)
        for _ in 0..<(window - 1) { await fixture.press(.up) }
        await fixture.press(.up)
        #expect(fixture.line(3).contains(handles[0]))
    }
}
