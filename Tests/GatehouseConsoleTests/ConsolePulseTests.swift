import Foundation
import GatehouseCore
import GatehouseTestSupport
import Testing
import TerminalKit
@testable import GatehouseConsole

/// The Pulse pane over seeded traffic: golden screens in 256 and 16 colours and monochrome,
/// the cursor's column opened in the Audit pane, and the charts following new events.
@Suite("Console: Pulse pane")
struct ConsolePulseTests {
    /// Ten minutes of traffic on the manual clock: logins and refreshes every minute, a burst of
    /// refused refreshes from one address in the last minutes (a spike), foreign cookies.
    static func seed(_ fixture: ConsoleFixture) async throws {
        var tokens: [String] = []
        for minute in 0..<10 {
            for user in 0..<(minute % 3 + 1) {
                let login = try await fixture.login("user\(user)@example.com", ip: "198.51.100.\(user + 1)")
                if case .tokens(let pair) = login.credential { tokens.append(pair.refreshToken.value) }
            }
            for (index, token) in tokens.enumerated() where index % 2 == minute % 2 {
                if let pair = try? await fixture.writer.refreshTokens.refresh(token, context: ClientContext(ip: "198.51.100.9")) {
                    tokens[index] = pair.refreshToken.value
                }
            }
            if minute >= 8 {
                for _ in 0..<(minute == 9 ? 12 : 2) {
                    _ = try? await fixture.writer.refreshTokens.refresh(SecretToken.generate().value, context: ClientContext(ip: "203.0.113.66"))
                }
                _ = try? await fixture.writer.sessions.authenticate(secret: SecretToken.generate().value, context: ClientContext(ip: "192.0.2.5"))
            }
            fixture.clock.advance(by: 60)
        }
        // 30 s into a quiet current minute.
        fixture.clock.advance(by: 30)
    }

    static func fixture(theme: String? = nil, depth: ColorDepth = .indexed256) async throws -> ConsoleFixture {
        let fixture = try ConsoleFixture(width: 120, height: 30, colorDepth: depth, theme: theme)
        try await seed(fixture)
        await fixture.start()
        await fixture.press(.character("6"))
        return fixture
    }

    @Test("golden: the Pulse pane in 256 and 16 colours and in monochrome", .sqliteOnly,
          arguments: [("dark", ColorDepth.indexed256), ("dark", .ansi16), ("monochrome", .none)])
    func golden(_ theme: String, _ depth: ColorDepth) async throws {
        let fixture = try await Self.fixture(theme: theme, depth: depth)
        Golden.check(fixture.styledScreen, named: "pane-pulse-\(depth.rawValue)")
    }

    @Test("the charts count what the audit log holds; the refusals split by reason; the offenders name the address")
    func counts() async throws {
        let fixture = try await Self.fixture()
        let screen = fixture.screen
        func row(_ label: String) -> String? { screen.split(separator: "\n").first { $0.hasPrefix(label) }.map(String.init) }
        // The last minute (the current one, 30 s in) had no traffic: its column is empty and NOW says 0;
        // minute 9 (the one before) had 12 refusals.
        #expect(row("refused: unknown") != nil, "\(screen)")
        #expect(row("foreign cookies") != nil)
        #expect(screen.contains("203.0.113.66"), "the refusing address among the offenders:\n\(screen)")
        let reading = try await fixture.writer.audit.pulse()
        let refused = try #require(reading.lines.first { $0.series.label == "refused: unknown" })
        #expect(refused.counts.suffix(3) == [2, 12, 0])
        let logins = try #require(reading.lines.first { $0.series.label == "logins" })
        let loginsSeeded = (0..<10).reduce(0) { $0 + $1 % 3 + 1 }
        #expect(logins.counts.reduce(0, +) == loginsSeeded)
        let cookies = try #require(reading.lines.first { $0.series.label == "foreign cookies" })
        #expect(cookies.counts.reduce(0, +) == 2)
        #expect(reading.offenders.first { $0.kind == .address }?.key == "203.0.113.66")
    }

    @Test("enter on a series and a minute opens the Audit pane on exactly those events; esc returns to the whole log")
    func openInAudit() async throws {
        let fixture = try await Self.fixture()
        // Down to "refused: unknown" (logins, refreshes, then the refusals), one column back (minute 9).
        await fixture.press(.down, .down, .left)
        #expect(fixture.screen.contains("refused: unknown: 12"), "\(fixture.screen)")
        await fixture.press(.enter)
        let rows = fixture.screen.split(separator: "\n").filter { $0.contains("refresh.failed") }
        #expect(rows.count == 12, "\(fixture.screen)")
        #expect(!fixture.screen.contains("refresh.rotated"))
        #expect(fixture.line(1).contains("pulse: refused: unknown"), "\(fixture.line(1))")
        await fixture.press(.escape)
        #expect(fixture.screen.contains("refresh.rotated"))
    }

    @Test("new events reach the charts on the next tick; the span zooms to 24 hours and back")
    func live() async throws {
        let fixture = try await Self.fixture()
        // The NOW column: the first number on the series' line (the label and the blocks have none).
        func now(_ label: String) -> String? {
            fixture.screen.split(separator: "\n").first { $0.hasPrefix(label) }?.split(separator: " ").first { $0.allSatisfy(\.isNumber) }.map(String.init)
        }
        #expect(now("logins") == "0")
        try await fixture.login("late@example.com")
        try await fixture.login("later@example.com")
        await fixture.tick()
        #expect(now("logins") == "2", "\(fixture.screen)")
        await fixture.press(.character("z"))
        #expect(fixture.screen.contains("last 24 hours"))
        await fixture.press(.character("z"))
        #expect(fixture.screen.contains("last hour"))
    }
}
