import Foundation
import GatehouseCore
import Testing
import TerminalKit
@testable import GatehouseConsole

@Suite("Console: command palette")
struct CommandPaletteTests {
    @Test("tab completes commands, then emails from the database; several matches are listed and tab steps through them")
    func emails() async throws {
        let fixture = try ConsoleFixture(width: 120, height: 30)
        for email in ["alice@example.com", "alan@example.com", "bob@example.com"] { try await fixture.login(email) }
        await fixture.start()
        await fixture.press(.character(":"))
        await fixture.type("to")
        await fixture.press(.tab)
        #expect(fixture.statusLine.hasPrefix(":tokens "))
        await fixture.type("a")
        await fixture.press(.tab)
        #expect(fixture.statusLine.hasPrefix(":tokens al"), "the shared prefix is filled in")
        #expect(fixture.raw.contains("│ alan@example.com") && fixture.raw.contains("│ alice@example.com") && !fixture.raw.contains("│ bob@"))
        await fixture.press(.tab)
        #expect(fixture.statusLine.hasPrefix(":tokens alan@example.com"))
        await fixture.press(.tab)
        #expect(fixture.statusLine.hasPrefix(":tokens alice@example.com"))
        await fixture.press(.enter)
        #expect(fixture.line(1).contains("user alice@example.com"))
        #expect(fixture.screen.split(separator: "\n").filter { $0.contains("@example.com") }.allSatisfy { $0.contains("alice@") })
    }

    @Test(":reset completes bucket keys and asks before resetting; :theme completes names and switches")
    func resetAndTheme() async throws {
        let fixture = try ConsoleFixture(width: 120, height: 30)
        let tight = RateLimitPolicy(name: "refresh", limit: 1, period: 60)
        for _ in 0..<3 { _ = try await fixture.writer.rateLimits.check(tight, key: "203.0.113.9") }
        await fixture.start()
        await fixture.press(.character(":"))
        await fixture.type("res")
        await fixture.press(.tab)
        await fixture.type("refresh:2")
        await fixture.press(.tab)
        #expect(fixture.statusLine.hasPrefix(":reset refresh:203.0.113.9"))
        await fixture.press(.enter)
        #expect(fixture.raw.contains("Reset bucket refresh:203.0.113.9?"))
        await fixture.press(.character("y"))
        #expect(try await fixture.writer.rateLimits.bucket(key: "refresh:203.0.113.9")?.remaining(at: fixture.clock.now()) == 1)

        await fixture.press(.character(":"))
        await fixture.type("theme hi")
        await fixture.press(.tab)
        #expect(fixture.statusLine.hasPrefix(":theme high-contrast"))
        await fixture.press(.enter)
        #expect(fixture.statusLine.hasPrefix("theme high-contrast (256 colours)"))
        let highContrast = BuiltinThemes.named("high-contrast")!.resolved(for: .indexed256)
        #expect(fixture.style(x: 0, y: 0).foreground == highContrast.header.foreground)

        await fixture.press(.character(":"))
        await fixture.type("nonsense")
        await fixture.press(.enter)
        #expect(fixture.statusLine.hasPrefix("unknown command :nonsense (tab completes: sessions, tokens, limits, reset"))
    }
}
