import Foundation

import GatehouseCore
import GatehouseTestSupport
import Testing
import TerminalKit
@testable import GatehouseConsole

/// Field report I in the console: read-only offers no action by any route, text from outside is
/// drawn escaped, wide addresses keep the columns aligned.
@Suite("Console: field report I")
struct ConsoleFieldReportTests {
    @Test("read-only: no key, remapped key, :command or completion reaches an action; the status line says why")
    func readOnlyOffersNoAction() async throws {
        // A config that maps a key to an action must not bring it back in read-only mode.
        let fixture = try ConsoleFixture(width: 120, height: 30, readOnly: true, keys: [.resetBucket: [.character("x")]])
        let tight = RateLimitPolicy(name: "refresh", limit: 1, period: 60)
        for _ in 0..<3 { _ = try await fixture.writer.rateLimits.check(tight, key: "203.0.113.9") }
        try await fixture.login("carol@example.com")
        await fixture.start()

        // :reset KEY, typed whole: refused before any confirmation opens.
        await fixture.press(.character(":"))
        await fixture.type("reset refresh:203.0.113.9")
        await fixture.press(.enter)
        #expect(!fixture.raw.contains("Reset bucket"), "\(fixture.raw)")
        #expect(fixture.statusLine.contains("read-only: :reset is not available"), "\(fixture.statusLine)")

        // Completion does not offer it.
        await fixture.press(.character(":"))
        await fixture.type("re")
        await fixture.press(.tab)
        #expect(!fixture.statusLine.hasPrefix(":reset"), "\(fixture.statusLine)")
        await fixture.press(.escape)

        // Keys of every pane, and the remapped one (R is x under this config).
        for (pane, keys) in [("1", "dD"), ("2", "dfD"), ("3", "x"), ("4", "nct")] {
            await fixture.press(.character(Character(pane)))
            for key in keys {
                await fixture.press(.character(key))
                #expect(!fixture.raw.contains("Revoke") && !fixture.raw.contains("Reset bucket") && !fixture.raw.contains("Start a document job")
                        && !fixture.raw.contains("Cancel job") && !fixture.raw.contains("Retry job"), "pane \(pane) key \(key):\n\(fixture.raw)")
                #expect(fixture.statusLine.contains("read-only:") && fixture.statusLine.contains("is not available"),
                        "pane \(pane) key \(key): \(fixture.statusLine)")
                await fixture.press(.escape)
            }
        }
        #expect(try await fixture.writer.rateLimits.bucket(key: "refresh:203.0.113.9")?.blockedTotal == 2)
    }

    @Test("text from outside is drawn as visible escapes; wide and emoji addresses keep the columns")
    func hostileAndWideText() async throws {
        let fixture = try ConsoleFixture(width: 140, height: 30)
        let login = try await fixture.login("王芳@例子.test")
        try await fixture.login("😀😀party@example.test")
        try await fixture.login("bob@example.test")
        let osc = "\u{1B}]2;owned\u{07}\u{1B}]52;c;cHduZWQ=\u{07}"
        try TestEngine.rawExecute("UPDATE sessions SET user_agent = '\(osc) \u{9D}2;owned\u{9C} \u{202E}evil' WHERE handle = '\(login.session.handle)'",
                                  on: fixture.path)
        await fixture.start()

        // Every cell of the screen is inert, and the escapes are there to read.
        let unsafe = fixture.backend.screen.cells.enumerated().filter { $0.element.text.unicodeScalars.contains(where: TerminalText.isUnsafe) }
        #expect(unsafe.isEmpty, "cells with raw controls at \(unsafe.map(\.offset)): \(unsafe.map { $0.element.text.unicodeScalars.map(\.value) })")
        await fixture.press(.end)  // the oldest session: 王芳's
        await fixture.press(.enter)
        #expect(fixture.raw.contains("\\x1B]2;owned\\x07\\x1B]52;c;cHduZWQ=\\x07 \\x9D2;owned\\x9C \\u{202E}evil"), "\(fixture.raw)")
        await fixture.press(.escape)

        // The KIND column starts at one display column in every row.
        let rows = (3..<6).map { fixture.line($0) }
        let columns = rows.map { row -> Int? in
            guard let range = row.range(of: " api ") else { return nil }
            return DisplayWidth.of(String(row[..<range.lowerBound]))
        }
        #expect(Set(columns).count == 1 && columns.first! != nil, "\(columns)\n\(fixture.raw)")
    }

    @Test("TERM=dumb (no cursor addressing) is refused with a message naming TERM, exit 1, like an unknown terminal")
    func dumbTerminal() async throws {
        let directory = try TemporaryDirectory()
        let path = directory.path("console.sqlite")
        _ = try Gatehouse.open(path: path, options: TestEngine.options(createIfMissing: true))
        for term in ["dumb", "no-such-terminal"] {
            let command = "env LANG=C.UTF-8 TERM=\(term) \(TmuxSession.quote(GatehouseBinary.url.path)) console --db \(TmuxSession.quote(path)); "
                + "echo EXIT=$?; sleep 600"
            let tmux = try TmuxSession(socket: directory.path("\(term).sock"), command: command)
            let (ended, screen) = await tmux.waitFor("EXIT=")
            #expect(ended && screen.contains("EXIT=1") && screen.contains("TERM=\(term)"), "\(term):\n\(screen)")
            #expect(screen.replacingOccurrences(of: "\n", with: "").contains("TERM=xterm-256color"), "says what to set:\n\(screen)")
        }
    }
}
