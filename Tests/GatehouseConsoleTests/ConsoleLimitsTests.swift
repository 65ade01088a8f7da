import Foundation
import GatehouseCore
import Testing
import TerminalKit
@testable import GatehouseConsole

@Suite("Console: rate-limits pane")
struct ConsoleLimitsTests {
    static let tight = RateLimitPolicy(name: "refresh", limit: 3, period: 60)

    /// 203.0.113.9 is over its limit (4 blocked); 198.51.100.7 made one request.
    func seedBuckets(_ fixture: ConsoleFixture) async throws {
        for _ in 0..<7 { _ = try await fixture.writer.rateLimits.check(Self.tight, key: "203.0.113.9") }
        _ = try await fixture.writer.rateLimits.check(Self.tight, key: "198.51.100.7")
        fixture.clock.advance(by: 5)
    }

    @Test("buckets most blocked first: requests left, retry-after, totals, last blocked, when full")
    func screen() async throws {
        let fixture = try ConsoleFixture(width: 120, height: 24)
        try await seedBuckets(fixture)
        await fixture.start()
        await fixture.press(.character("3"))
        let lines = fixture.screen.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        #expect(lines[2].hasPrefix("BUCKET") && lines[2].contains("RATE") && lines[2].contains("BLOCKED ↓"))
        func words(_ line: String) -> String { line.split(separator: " ").joined(separator: " ") }
        #expect(words(lines[3]) == "refresh:203.0.113.9 3/minute 0/3 15s 3 4 5s ago 55s")
        #expect(words(lines[4]) == "refresh:198.51.100.7 3/minute 2/3 — 1 0 never 15s")
        #expect(lines.last?.hasPrefix("R reset  enter details") == true)
    }

    @Test("R resets the selected bucket after a confirmation that names it; audited with the operator")
    func reset() async throws {
        let fixture = try ConsoleFixture(width: 120, height: 24)
        try await seedBuckets(fixture)
        await fixture.start()
        await fixture.press(.character("3"), .character("R"))
        #expect(fixture.raw.contains("Reset bucket refresh:203.0.113.9 (3/minute)?"))
        #expect(fixture.raw.contains("It has 0 of 3 requests left and blocked 4 so far."))
        await fixture.press(.character("n"))
        #expect(try await fixture.writer.rateLimits.bucket(key: "refresh:203.0.113.9")?.remaining(at: fixture.clock.now()) == 0)

        await fixture.press(.character("R"), .character("y"))
        #expect(fixture.statusLine.hasPrefix("reset bucket refresh:203.0.113.9"))
        #expect(try await fixture.writer.rateLimits.bucket(key: "refresh:203.0.113.9")?.remaining(at: fixture.clock.now()) == 3)
        let event = try #require(try await fixture.writer.audit.tail(limit: 5).first { $0.action == "rate_limit.reset" })
        #expect(event.actorType == "operator" && event.actorId == "oncall" && event.targetId == "refresh:203.0.113.9")

        await fixture.press(.enter)
        #expect(fixture.raw.contains("Bucket refresh:203.0.113.9") && fixture.raw.contains("RESETS"))
    }

    @Test("an attack's worth of buckets pages by keyset, and / filters by key")
    func pagingAndFilter() async throws {
        let fixture = try ConsoleFixture(width: 120, height: 24)
        for n in 0..<60 {
            for _ in 0..<(1 + n % 5) { _ = try await fixture.writer.rateLimits.check(Self.tight, key: "10.0.0.\(n)") }
        }
        await fixture.start()
        await fixture.press(.character("3"))
        var seen: [String] = []
        for _ in 0..<6 {
            seen += fixture.screen.split(separator: "\n").compactMap { line in
                line.hasPrefix("refresh:") ? String(line.split(separator: " ")[0]) : nil
            }
            await fixture.press(.pageDown)
        }
        #expect(Set(seen).count == 60, "every bucket once over the pages")
        await fixture.press(.character("/"))
        await fixture.type("\\.4[0-9]\\b")
        await fixture.press(.enter)
        let shown = fixture.screen.split(separator: "\n").filter { $0.hasPrefix("refresh:") }
        #expect(shown.count == 10 && shown.allSatisfy { $0.contains("10.0.0.4") })
    }
}
