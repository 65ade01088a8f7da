import GatehouseTestSupport
import Foundation
import GatehouseCore
import Testing
import TerminalKit
@testable import GatehouseConsole

/// Every pane, and every shipped theme under 256 and 16 colours, against golden files (text,
/// one letter per style, and the legend). `Golden` says how to re-record after a meant change.
@Suite("Console: golden screens", .sqliteOnly)
struct ConsoleGoldenTests {
    /// The same small world for every screen: sessions in several states, a token family, a
    /// blocking and a quiet bucket, jobs queued, running and failed, and their audit trail.
    static func seed(_ fixture: ConsoleFixture) async throws {
        let operatorActor = Actor.operator(ConsoleFixture.operatorIdentity)
        let alice = try await fixture.login("alice@example.com")
        if case .tokens(let pair) = alice.credential { _ = try await fixture.writer.refreshTokens.refresh(pair.refreshToken.value) }
        fixture.clock.advance(by: 60)
        try await fixture.login("bob@example.com", kind: .web, ip: "2001:db8::7")
        let carol = try await fixture.login("carol@example.com", ip: "192.0.2.44")
        _ = try await fixture.writer.sessions.revoke(handle: carol.session.handle, by: operatorActor)
        let tight = RateLimitPolicy(name: "refresh", limit: 3, period: 60)
        for _ in 0..<6 { _ = try await fixture.writer.rateLimits.check(tight, key: "203.0.113.9") }
        _ = try await fixture.writer.rateLimits.check(tight, key: "198.51.100.7")
        let jobs = fixture.writer.jobs
        _ = try await jobs.enqueue(JobRequest(kind: DocumentKinds.userExport, arguments: ["user": "ghost@example.com"], maxAttempts: 1), by: operatorActor)
        let failing = try #require(try await jobs.claim(worker: "worker-a:1:0", lease: 30))
        try await jobs.fail(id: failing.id, worker: "worker-a:1:0", error: "no user ghost@example.com", permanent: true)
        _ = try await jobs.enqueue(JobRequest(kind: DocumentKinds.auditReport, arguments: ["from": "2026-11-01", "to": "2026-11-02"]), by: operatorActor)
        let running = try #require(try await jobs.claim(worker: "worker-a:1:0", lease: 30))
        _ = try await jobs.heartbeat(id: running.id, worker: "worker-a:1:0", lease: 30, progress: 60, note: "60,000 events written")
        _ = try await jobs.enqueue(JobRequest(kind: DocumentKinds.userExport, arguments: ["user": "alice@example.com"]), by: operatorActor)
        fixture.clock.advance(by: 5)
    }

    static func fixture(theme: String? = nil, depth: ColorDepth = .indexed256) async throws -> ConsoleFixture {
        let fixture = try ConsoleFixture(width: 120, height: 24, colorDepth: depth, theme: theme)
        try await seed(fixture)
        await fixture.start()
        // Past the "new row" highlight of the first read.
        fixture.clock.advance(by: 3)
        await fixture.tick()
        return fixture
    }

    @Test("each pane", arguments: PaneID.allCases)
    func pane(_ pane: PaneID) async throws {
        let fixture = try await Self.fixture()
        await fixture.press(.character(Character(String(pane.rawValue + 1))))
        for _ in 0..<5 { await fixture.tick() } // the audit pane verifies its chain on ticks
        Golden.check(fixture.styledScreen, named: "pane-\(pane.title.lowercased())")
    }

    @Test("the job-start form and the help overlay")
    func overlays() async throws {
        let fixture = try await Self.fixture()
        await fixture.press(.character("4"), .character("n"))
        Golden.check(fixture.styledScreen, named: "form-start-job")
        await fixture.press(.escape, .character("?"))
        Golden.check(fixture.styledScreen, named: "help-jobs")
    }

    @Test("each shipped theme in 256 and in 16 colours", arguments: ["dark", "light", "high-contrast", "monochrome"], [ColorDepth.indexed256, .ansi16])
    func theme(_ name: String, depth: ColorDepth) async throws {
        let fixture = try await Self.fixture(theme: name, depth: depth)
        await fixture.press(.character("3"))
        Golden.check(fixture.styledScreen, named: "theme-\(name)-\(depth.rawValue)")
    }
}
