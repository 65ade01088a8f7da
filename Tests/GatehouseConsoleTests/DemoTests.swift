import Foundation
import GatehouseCore
import GatehouseTestSupport
import Testing

/// `gatehouse demo` as a newcomer runs it: a real terminal, the real API on a free port, the
/// simulator's traffic over HTTP, the console on top.
@Suite("gatehouse demo (tmux)", .serialized)
struct DemoTests {
    @Test("Sessions, Audit and Limits fill with the simulated traffic; q stops everything and leaves no process")
    func demo() async throws {
        let directory = try TemporaryDirectory()
        let db = try directory.database("demo")
        let binary = GatehouseBinary.url.path
        let started = Date()
        let tmux = try TmuxSession(socket: directory.path("tmux.sock"), width: 120, height: 32, command:
            "env -u NO_COLOR LANG=C.UTF-8 TERM=xterm-256color \(TmuxSession.quote(binary)) demo --db \(TmuxSession.quote(db)); echo EXIT=$?; sleep 600")
        // A generous guard, not a bound: the time it took is printed (about 0.5 s on a quiet machine).
        let deadline = 120.0
        func remaining() -> Double { max(0.5, deadline - Date().timeIntervalSince(started)) }

        let (sessions, sessionsScreen) = await tmux.waitFor(timeout: remaining()) { screen in
            screen.split(separator: "\n").filter { $0.contains("@demo.") && $0.contains("ses_") }.count >= 3
        }
        #expect(sessions, "Sessions pane:\n\(sessionsScreen)")
        try tmux.send("5")
        let (audit, auditScreen) = await tmux.waitFor(timeout: remaining()) { $0.contains("session.created") && $0.contains("SEQ") }
        #expect(audit, "Audit pane:\n\(auditScreen)")
        try tmux.send("3")
        let (limits, limitsScreen) = await tmux.waitFor(timeout: remaining()) { screen in
            screen.contains("BUCKET") && screen.split(separator: "\n").contains { $0.hasPrefix("refresh:") || $0.hasPrefix("verify:") || $0.hasPrefix("magic-link") }
        }
        #expect(limits, "Limits pane:\n\(limitsScreen)")
        print("demo panes filled after \(String(format: "%.1f", Date().timeIntervalSince(started))) s")

        // Pulse: the charts move with the traffic. The screen is read once; then the test waits
        // for the chart rows to differ from it (the NOW counts grow as requests come in).
        try tmux.send("6")
        func charts(_ screen: String) -> [String] {
            screen.split(separator: "\n").map(String.init).filter { $0.hasPrefix("logins") || $0.hasPrefix("refreshes") }
        }
        let (pulse, pulseScreen) = await tmux.waitFor(timeout: remaining()) { $0.contains("EVENTS PER MINUTE") && charts($0).count == 2 }
        #expect(pulse, "Pulse pane:\n\(pulseScreen)")
        let before = charts(pulseScreen)
        let (moved, movedScreen) = await tmux.waitFor(timeout: remaining()) { charts($0).count == 2 && charts($0) != before }
        #expect(moved, "the charts did not move:\n\(movedScreen)")

        try tmux.send("q")
        let (stopped, screen) = await tmux.waitFor { $0.contains("EXIT=0") }
        #expect(stopped, "\(screen)")
        #expect(screen.replacingOccurrences(of: "\n", with: "").contains("demo stopped; the database is at \(Self.shown(db))"))
        // Only the pane's shell (sleeping) is left: no gatehouse process.
        let left = try await Subprocess.run("/usr/bin/pgrep", ["-f", "^\(binary) demo"])
        #expect(left.stdout.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty, "still running: \(left.stdout)")
        // Its documents went to its scratch folder, not into the folder it was started from.
        if case .postgres(let location) = try DatabaseLocation(db) {
            #expect(!FileManager.default.fileExists(atPath: FileManager.default.currentDirectoryPath + "/\(location.database)-documents"))
        }
    }

    @Test("--headless prints a line a second and stops cleanly on SIGINT; without a terminal and without --headless it refuses")
    func headless() async throws {
        let directory = try TemporaryDirectory()
        let db = try directory.database("demo")
        let demo = try GatehouseBinary.start(["demo", "--headless", "--db", db, "--rate", "50"])
        let deadline = Date().addingTimeInterval(120)
        while Date() < deadline, demo.outputSoFar().split(separator: "\n").filter({ $0.contains(" s  requests ") }).count < 3 {
            try await Task.sleep(for: .milliseconds(100))
        }
        demo.signal(SIGINT)
        let result = await demo.exit()
        #expect(result.status == 0, "\(result.stderr)")
        let lines = result.stdout.split(separator: "\n").map(String.init)
        #expect(lines.filter { $0.contains(" s  requests ") }.count >= 3, "\(result.stdout)")
        #expect(lines.last { $0.contains(" s  requests ") }?.contains("5xx 0") == true, "no server errors: \(result.stdout)")
        #expect(result.stdout.contains("demo stopped; the database is at \(Self.shown(db))"))

        let refused = try await GatehouseBinary.run(["demo", "--db", directory.path("other.sqlite")])
        #expect(refused.status == 2 && refused.stderr.contains("use --headless"))
    }

    /// `db` as the demo prints it: a path as given, a URL without its password.
    static func shown(_ db: String) -> String {
        if case .postgres(let location) = try? DatabaseLocation(db) { return location.redacted }
        return db
    }
}
