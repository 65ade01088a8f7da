import GatehouseTestSupport
import Foundation
import GatehouseCore
import Testing
import TerminalKit
@testable import GatehouseConsole

/// Golden screens on the in-memory backend.
@Suite("Console screens")
struct ConsoleScreenTests {
    @Test("the sessions pane: header, tabs, columns, rows, hints", .sqliteOnly)
    func sessionsPane() async throws {
        let fixture = try ConsoleFixture(width: 120, height: 24)
        try await fixture.login("alice@example.com")
        fixture.clock.advance(by: 90)
        try await fixture.login("李@例え.jp", kind: .web, ip: "2001:db8::1")
        await fixture.start()
        #expect(fixture.screen == """
            Gatehouse console  /tmp/gatehouse-tests-XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX/console.sqlite  operator oncall@203.0.113.9
             1 Sessions   2 Tokens   3 Limits   4 Jobs   5 Audit   6 Pulse
            HANDLE            USER               KIND  STATE    AGE ↓  SEEN  IDLE IN  ENDS IN  IP               TOKENS  USER AGENT
            ses_############  李@例え.jp         web   active   0s     0s    7d 0h    30d 0h   2001:db8::1           -  Mozilla/5.0…
            ses_############  alice@example.com  api   active   1m     1m    6d 23h   29d 23h  198.51.100.7          1  Mozilla/5.0…


















            d revoke  D revoke user  w why?  enter details  / filter  : cmd  p pause  ? help  q/ctrl-c quit  space mark  y copy
            """)
        // The first row is selected.
        #expect(fixture.style(x: 0, y: 3) == fixture.themed(\.selection))
    }

    @Test("the tokens pane lists fingerprints by family, never a secret", .sqliteOnly)
    func tokensPane() async throws {
        let fixture = try ConsoleFixture(width: 120, height: 24)
        let login = try await fixture.login("bob@example.com")
        guard case .tokens(let pair) = login.credential else { Issue.record("no tokens"); return }
        _ = try await fixture.writer.refreshTokens.refresh(pair.refreshToken.value)
        await fixture.start()
        await fixture.press(.character("2"))
        #expect(fixture.screen == """
            Gatehouse console  /tmp/gatehouse-tests-XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX/console.sqlite  operator oncall@203.0.113.9
             1 Sessions   2 Tokens   3 Limits   4 Jobs   5 Audit   6 Pulse
            FINGERPRINT   FAMILY            SESSION ↓         USER                       STATE         AGE  EXPIRES IN  PARENT
            ############  fam_############  ses_############  bob@example.com            active        0s   30d 0h      ############
            ############  fam_############  ses_############  bob@example.com            used          0s   —           —


















            d revoke token  f revoke family  D revoke user  enter details  / filter  : cmd  p pause  ? help  q/ctrl-c quit
            """)
        #expect(!fixture.backend.screen.text.contains(pair.refreshToken.value))
    }

    @Test("help is built from the keys in force; read-only shows no actions")
    func helpAndReadOnly() async throws {
        let fixture = try ConsoleFixture(width: 100, height: 30, readOnly: true)
        try await fixture.login("carol@example.com")
        await fixture.start()
        #expect(fixture.line(0).contains("READ-ONLY"))
        #expect(!fixture.line(29).contains("revoke"))
        await fixture.press(.character("?"))
        #expect(fixture.screen.contains("Keys — Sessions (read-only)"))
        #expect(fixture.screen.contains("filter rows (regular expression; !text inverts)"))
        #expect(!fixture.screen.contains("revoke"))
        await fixture.press(.character("d"))
        await fixture.press(.escape)
        #expect(!fixture.screen.contains("Keys —"))
        await fixture.press(.character("d"))
        #expect(!fixture.screen.contains("Revoke session"))
    }

    @Test("a terminal smaller than 80×24 asks to be enlarged, and recovers")
    func tooSmall() async throws {
        let fixture = try ConsoleFixture(width: 120, height: 30)
        try await fixture.login("dave@example.com")
        await fixture.start()
        fixture.backend.resize(width: 70, height: 20)
        await fixture.press()
        fixture.app.send(fixture.backend.nextEvent(timeout: 0)!)
        await fixture.app.settle()
        fixture.app.render()
        #expect(fixture.screen.contains("Enlarge the terminal"))
        #expect(fixture.screen.contains("at least 80×24; this one is 70×20"))
        fixture.backend.resize(width: 90, height: 26)
        fixture.app.send(fixture.backend.nextEvent(timeout: 0)!)
        await fixture.app.settle()
        fixture.app.render()
        #expect(fixture.screen.contains("dave@example.com"))
        #expect(fixture.line(25).hasPrefix("d revoke"))
    }

    @Test("the detail view shows the token lineage and the audit trail")
    func detail() async throws {
        let fixture = try ConsoleFixture(width: 120, height: 30)
        let login = try await fixture.login("erin@example.com")
        guard case .tokens(let pair) = login.credential else { return }
        _ = try await fixture.writer.refreshTokens.refresh(pair.refreshToken.value)
        await fixture.start()
        await fixture.press(.enter)
        let screen = fixture.screen
        #expect(screen.contains("Session ses_############"))
        #expect(screen.contains("TOKEN LINEAGE (oldest first)"))
        #expect(screen.contains("● ############  used"))
        #expect(screen.contains("└→ ############  active"))
        #expect(screen.contains("session.created"))
        #expect(screen.contains("refresh.rotated"))
        await fixture.press(.escape)
        #expect(!fixture.screen.contains("TOKEN LINEAGE"))
    }

    @Test("without colours every role is still visible through attributes")
    func monochrome() async throws {
        let fixture = try ConsoleFixture(width: 100, height: 26, color: false)
        try await fixture.login("frank@example.com")
        await fixture.start()
        #expect(fixture.style(x: 0, y: 3) == fixture.themed(\.selection))
        #expect(fixture.style(x: 0, y: 3).foreground == .default)
        #expect(fixture.style(x: 0, y: 0).attributes.contains(.bold))
    }
}
