import Foundation
import GatehouseCore
import GatehouseTestSupport
import Testing

/// The real console binary in a real terminal (tmux), against a real database that this test
/// process writes to at the same time, as the server would.
@Suite("Console in a terminal", .serialized)
struct ConsoleTerminalTests {
    struct Setup {
        let directory: TemporaryDirectory
        let gatehouse: Gatehouse
        let path: String

        init() throws {
            directory = try TemporaryDirectory()
            path = try directory.database("console")
            var configuration = GatehouseConfiguration()
            for name in ["magic-link-email", "magic-link-ip", "verify", "refresh"] {
                try configuration.rateLimits.override(name, rate: "100000/minute")
            }
            gatehouse = try Gatehouse.open(path: path, options: TestEngine.options(createIfMissing: true), configuration: configuration)
        }

        func login(_ email: String) async throws -> Login {
            let link = try await gatehouse.magicLinks.requestMagicLink(email: email, context: .init(ip: "198.51.100.20"))
            return try await gatehouse.magicLinks.verifyMagicLink(token: link.token.value, context: .init(ip: "198.51.100.20", userAgent: "curl/8.0"))
        }

        /// The console under tmux; the shell line prints its exit status when it ends.
        func console(term: String = "xterm-256color", width: Int = 120, height: Int = 40, extra: String = "",
                     socket: String = "tmux.sock") throws -> TmuxSession {
            // `swift test` may run with NO_COLOR set; the console sees it only when a test asks.
            let command = "env -u NO_COLOR LANG=C.UTF-8 TERM=\(term) SSH_CONNECTION='203.0.113.77 50000 10.0.0.1 22' \(extra) "
                + "\(TmuxSession.quote(GatehouseBinary.url.path)) console --db \(TmuxSession.quote(path)); echo EXIT=$?; sleep 600"
            return try TmuxSession(socket: directory.path(socket), width: width, height: height, command: command)
        }
    }

    @Test("Audit pane: an event committed by another process comes on screen with a following refresh")
    func auditTail() async throws {
        let setup = try Setup()
        _ = try await setup.login("early@example.com")
        let tmux = try setup.console()
        #expect(await tmux.waitFor("early@example.com").0)
        try tmux.send("5")
        #expect(await tmux.waitFor("chain ✓ verified to #").0)

        // Another process (the CLI) commits an operator action.
        let reset = try await GatehouseBinary.run(["limits", "reset", "verify:198.51.100.20", "--yes", "--db", setup.path])
        #expect(reset.status == 0, "\(reset.stderr)")
        // How fast is measured by Benchmarks/console-latency.sh; a test only waits for the state.
        let started = Date()
        let (appeared, screen) = await tmux.waitFor("rate_limit.reset")
        #expect(appeared, "not on screen:\n\(screen)")
        print("audit event on screen after \(Int(Date().timeIntervalSince(started) * 1000)) ms")
        try tmux.send("q")
    }

    @Test("Limits pane: a blocked bucket is reset from the keyboard (R, y), audited with the operator and SSH client")
    func bucketReset() async throws {
        let setup = try Setup()
        let tight = RateLimitPolicy(name: "refresh", limit: 2, period: 60)
        for _ in 0..<5 { _ = try await setup.gatehouse.rateLimits.check(tight, key: "203.0.113.50") }
        let tmux = try setup.console()
        try tmux.send("3")
        #expect(await tmux.waitFor { $0.contains("refresh:203.0.113.50") && $0.contains("0/2") }.0)
        try tmux.send("R")
        #expect(await tmux.waitFor("Reset bucket refresh:203.0.113.50 (2/minute)?").0)
        try tmux.send("y")
        let (reset, screen) = await tmux.waitFor { $0.contains("reset bucket refresh:203.0.113.50") && $0.contains("2/2") }
        #expect(reset, "\(screen)")
        #expect(try await setup.gatehouse.rateLimits.bucket(key: "refresh:203.0.113.50")?.remaining(at: Date()) == 2)
        let event = try #require(try await setup.gatehouse.audit.tail(limit: 5).first { $0.action == "rate_limit.reset" })
        #expect(event.actorType == "operator" && event.details?.contains("\"ssh_client\":\"203.0.113.77\"") == true, "\(event.details ?? "")")
        try tmux.send("q")
        #expect(await tmux.waitFor("EXIT=0").0)
    }

    @Test("Sessions pane: three marked sessions revoked at once: one audit row each and one summary, all by the operator")
    func markAndRevoke() async throws {
        let setup = try Setup()
        var handles: [String] = []
        for index in 0..<5 { handles.append(try await setup.login("bulk\(index)@example.com").session.handle) }
        let tmux = try setup.console()
        #expect(await tmux.waitFor("bulk0@example.com").0)
        // Newest first: marking the top three marks bulk4, bulk3, bulk2.
        try tmux.send("Space", "Space", "Space")
        #expect(await tmux.waitFor("3 marked").0)
        try tmux.send("d")
        let (asked, dialog) = await tmux.waitFor("Revoke 3 marked sessions?")
        #expect(asked, "\(dialog)")
        // The dialog's own lines (inside its border) name the three, and not the rows behind it.
        let inside = dialog.split(separator: "\n").filter { $0.contains("│") }.joined(separator: "\n")
        #expect(inside.contains(handles[4]) && inside.contains(handles[2]) && !inside.contains(handles[1]), "\(inside)")
        try tmux.send("y")
        let (done, screen) = await tmux.waitFor("revoked 3 of 3 sessions")
        #expect(done, "\(screen)")
        let events = try await setup.gatehouse.audit.tail(limit: 10)
        let revoked = events.filter { $0.action == "session.revoked" }
        #expect(Set(revoked.compactMap(\.targetId)) == Set(handles[2...4]))
        let summary = try #require(events.first { $0.action == "sessions.bulk_revoked" })
        #expect(summary.details?.contains("\"changed\":\"3\"") == true, "\(summary.details ?? "")")
        #expect((revoked + [summary]).allSatisfy { $0.actorType == "operator" && $0.details?.contains("\"ssh_client\":\"203.0.113.77\"") == true })
        for handle in handles[0...1] { #expect(try await setup.gatehouse.sessions.summary(handle: handle)?.session.state == .active) }
        try tmux.send("q")
        #expect(await tmux.waitFor("EXIT=0").0)
    }

    @Test("y copies the selected session's handle to the clipboard through the terminal (OSC 52 into tmux's buffer)")
    func copyHandle() async throws {
        let setup = try Setup()
        let login = try await setup.login("copy@example.com")
        let tmux = try setup.console()
        try tmux.acceptClipboard()
        #expect(await tmux.waitFor("copy@example.com").0)
        try tmux.send("y")
        let (said, screen) = await tmux.waitFor("copied handle \(login.session.handle) to the clipboard")
        #expect(said, "\(screen)")
        // tmux takes the sequence from the program's output: wait for the buffer, not for a time.
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline, tmux.pasteBuffer() != login.session.handle { try await Task.sleep(for: .milliseconds(25)) }
        #expect(tmux.pasteBuffer() == login.session.handle)
        try tmux.send("q")
        #expect(await tmux.waitFor("EXIT=0").0)
    }

    @Test("Jobs pane: a job started from the form runs in a worker process and its progress moves on screen")
    func jobFromForm() async throws {
        let setup = try Setup()
        // Enough events that the report takes a few seconds in a debug build.
        try await offPool { try SyntheticData.seed(.init(users: 10, sessions: 0, auditEvents: 150_000), into: setup.gatehouse.database) }
        let worker = try GatehouseBinary.start(["worker", "--db", setup.path, "--poll", "0.1", "--data-dir", setup.directory.path("documents")])
        defer { worker.terminate(); _ = worker.wait() }
        let tmux = try setup.console()
        try tmux.send("4")
        #expect(await tmux.waitFor("Press n to start one").0)
        try tmux.send("n")
        #expect(await tmux.waitFor("Start a document job").0)
        try tmux.send("Right", "Tab", "C-u")
        try tmux.type("2000-01-01")
        try tmux.send("Enter")
        #expect(await tmux.waitFor("started job 1 (audit-report").0)

        // Watch the progress column: it must show values between 0 and 100 that grow, then succeed.
        var seen: [Int] = []
        // A guard against a hang only: the loop ends when the job has succeeded.
        let deadline = Date().addingTimeInterval(300)
        var finished = false
        while Date() < deadline {
            let screen = tmux.capture()
            if let line = screen.split(separator: "\n").first(where: { $0.contains("audit-report") && $0.contains("%") }),
               let match = line.firstMatch(of: /(\d+)%/), let percent = Int(match.1) {
                if seen.last != percent { seen.append(percent) }
                if line.contains("succeeded") { finished = true; break }
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        #expect(finished, "the job did not succeed: \(tmux.capture())")
        #expect(seen.contains { $0 > 0 && $0 < 100 }, "progress seen: \(seen)")
        #expect(seen == seen.sorted(), "progress only grows: \(seen)")
        print("progress seen on screen: \(seen)")
        try tmux.send("q")
    }

    @Test("config.toml from XDG_CONFIG_HOME: its broken theme is named with file:line on the status line, its keys are in force")
    func configAndBrokenTheme() async throws {
        let setup = try Setup()
        _ = try await setup.login("early@example.com")
        let config = setup.directory.path("config/gatehouse")
        try FileManager.default.createDirectory(atPath: config + "/themes", withIntermediateDirectories: true)
        try "theme = \"broken\"\n[keys]\nrevoke = \"x\"\n".write(toFile: config + "/config.toml", atomically: true, encoding: .utf8)
        try "name = \"broken\"\n[slots]\nheader = \"bold #5fd7zz\"\n".write(toFile: config + "/themes/broken.toml", atomically: true, encoding: .utf8)
        let tmux = try setup.console(extra: "XDG_CONFIG_HOME=\(TmuxSession.quote(setup.directory.path("config")))")
        let (started, screen) = await tmux.waitFor { $0.contains("early@example.com") && $0.contains("themes/broken.toml:3: header: unknown colour") }
        #expect(started, "\(screen)")
        #expect(screen.contains("x revoke"))
        try tmux.send("q")
        #expect(await tmux.waitFor("EXIT=0").0)
    }

    @Test("COLORTERM=truecolor with a *-direct terminfo entry draws 24-bit colour; NO_COLOR draws none")
    func trueColor() async throws {
        let setup = try Setup()
        // The entry comes from Debian's ncurses-term; the test builds its own so that a fresh
        // machine without that package passes too (tic is in ncurses-bin, which every system has).
        let terminfo = try Self.buildDirectColorEntry(in: setup.directory.path("terminfo"))
        _ = try await setup.login("early@example.com")
        let tmux = try setup.console(extra: "COLORTERM=truecolor TERMINFO=\(TmuxSession.quote(terminfo))")
        #expect(await tmux.waitFor("early@example.com").0)
        // The dark theme's header colour, #5fd7ff, exactly.
        #expect(tmux.captureWithEscapes().contains("38;2;95;215;255"))
        try tmux.send("q")
        #expect(await tmux.waitFor("EXIT=0").0)

        let plain = try setup.console(extra: "NO_COLOR=1 COLORTERM=truecolor", socket: "plain.sock")
        #expect(await plain.waitFor("early@example.com").0)
        let escapes = plain.captureWithEscapes()
        #expect(!escapes.contains("38;2;") && !escapes.contains("38;5;"), "no colours under NO_COLOR")
        try plain.send("q")
    }

    /// Compiles an `xterm-direct` entry (xterm-256color with ncurses' direct-colour `setaf`/`setab`
    /// and the RGB flag, as ncurses' terminfo.src defines `xterm+direct`) into `directory`.
    static func buildDirectColorEntry(in directory: String) throws -> String {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let source = directory + "/xterm-direct.src"
        try #"""
            xterm-direct|xterm with direct-colour indexing (built by the tests),
                RGB, colors#0x1000000, pairs#0x10000, CO#8,
                initc@, ccc@, op=\E[39;49m, setb@, setf@,
                setab=\E[%?%p1%{8}%<%t4%p1%d%e48;2;%p1%{65536}%/%d;%p1%{256}%/%{255}%&%d;%p1%{255}%&%d%;m,
                setaf=\E[%?%p1%{8}%<%t3%p1%d%e38;2;%p1%{65536}%/%d;%p1%{256}%/%{255}%&%d;%p1%{255}%&%d%;m,
                use=xterm-256color,

            """#.write(toFile: source, atomically: true, encoding: .utf8)
        guard let tic = ["/usr/bin/tic", "/bin/tic"].first(where: FileManager.default.isExecutableFile(atPath:)) else {
            throw TerminfoError.ticMissing
        }
        let compiled = try Subprocess.run(tic, ["-x", "-o", directory, source])
        guard compiled.status == 0, FileManager.default.fileExists(atPath: directory + "/x/xterm-direct") else {
            throw TerminfoError.ticFailed(compiled.stderr)
        }
        return directory
    }

    enum TerminfoError: Error { case ticMissing, ticFailed(String) }

    @Test("sessions created elsewhere appear live; d y revokes one, audited with the operator")
    func endToEnd() async throws {
        let setup = try Setup()
        _ = try await setup.login("early@example.com")
        let tmux = try setup.console()
        #expect(await tmux.waitFor("early@example.com").0)

        let login = try await setup.login("alice@example.com")
        let (appeared, screen) = await tmux.waitFor(login.session.handle)
        #expect(appeared, "not on screen:\n\(screen)")

        // Select it by filtering on its handle, then revoke it from the keyboard.
        try tmux.send("/")
        try tmux.type(login.session.handle)
        try tmux.send("Enter")
        #expect(await tmux.waitFor { $0.contains("filter /\(login.session.handle)") && !$0.contains("early@example.com") }.0)
        try tmux.send("d")
        #expect(await tmux.waitFor("Revoke session \(login.session.handle) of alice@example.com?").0)
        try tmux.send("y")
        #expect(await tmux.waitFor("revoked session \(login.session.handle)").0)

        let summary = try await setup.gatehouse.sessions.summary(handle: login.session.handle)
        #expect(summary?.session.state == .revoked)
        let operatorName = OperatorIdentity.current(via: "console").name
        #expect(summary?.session.endedBy == "operator:\(operatorName)@203.0.113.77")
        let event = try #require(try await setup.gatehouse.audit.tail(limit: 1).last)
        #expect(event.action == "session.revoked" && event.actorType == "operator")
        #expect(event.actorId == operatorName && event.ip == "203.0.113.77")

        try tmux.send("q")
        #expect(await tmux.waitFor("EXIT=0").0)
    }

    @Test("resizing while it runs re-lays the screen; too small asks to enlarge; the terminal is restored on quit")
    func resize() async throws {
        let setup = try Setup()
        _ = try await setup.login("resize@example.com")
        let tmux = try setup.console()
        #expect(await tmux.waitFor("resize@example.com").0)
        #expect(tmux.display("#{alternate_on}") == "1")

        try tmux.resize(width: 90, height: 26)
        let (narrow, narrowScreen) = await tmux.waitFor { screen in
            let lines = screen.split(separator: "\n", omittingEmptySubsequences: false)
            return lines.count >= 26 && lines[25].hasPrefix("d revoke") && screen.contains("resize@example.com")
        }
        #expect(narrow, "\(narrowScreen)")
        #expect(narrowScreen.split(separator: "\n").allSatisfy { $0.count <= 90 })

        try tmux.resize(width: 60, height: 20)
        #expect(await tmux.waitFor("Enlarge the terminal").0)

        try tmux.resize(width: 120, height: 40)
        #expect(await tmux.waitFor { $0.contains("resize@example.com") && !$0.contains("Enlarge") }.0)

        try tmux.send("q")
        #expect(await tmux.waitFor("EXIT=0").0)
        #expect(tmux.display("#{alternate_on}") == "0")
    }

    @Test("usable under xterm-256color, screen-256color, linux and vt100", arguments: ["xterm-256color", "screen-256color", "linux", "vt100"])
    func terminals(term: String) async throws {
        let setup = try Setup()
        _ = try await setup.login("小林@example.jp")
        let tmux = try setup.console(term: term)
        let (ok, screen) = await tmux.waitFor("小林@example.jp")
        #expect(ok, "\(term):\n\(screen)")
        #expect(screen.contains("Gatehouse console") && screen.contains("HANDLE"))
        try tmux.send("?")
        #expect(await tmux.waitFor("Keys — Sessions").0)
        try tmux.send("Escape")
        try tmux.send("q")
        #expect(await tmux.waitFor("EXIT=0").0)
    }

    @Test("SIGTERM restores the terminal before the console exits")
    func sigterm() async throws {
        let setup = try Setup()
        let tmux = try setup.console()
        #expect(await tmux.waitFor("No sessions yet").0)
        #expect(tmux.display("#{alternate_on}") == "1")
        // The pane runs a shell; the console is its child.
        let shell = tmux.display("#{pane_pid}")
        let pgrep = try await Subprocess.run("pgrep", ["-P", shell, "-f", "console"]).stdout
        let pid = try #require(Int32(pgrep.split(separator: "\n").first ?? ""))
        kill(pid, SIGTERM)
        let (exited, screen) = await tmux.waitFor("EXIT=143")
        #expect(exited, "\(screen)")
        #expect(tmux.display("#{alternate_on}") == "0")
    }

    @Test("a missing database is a message, not a crash")
    func missingDatabase() async throws {
        let directory = try TemporaryDirectory()
        let result = try await GatehouseBinary.run(["console", "--db", directory.path("absent.sqlite")])
        #expect(result.status == 1 && result.stderr.contains("database not found"))
    }
}
