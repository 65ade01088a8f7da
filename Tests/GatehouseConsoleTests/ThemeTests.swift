import ConfigFiles
import Foundation
import GatehouseCore
import GatehouseTestSupport
import Testing
import TerminalKit
@testable import GatehouseConsole

@Suite("Console: themes, colours and config.toml")
struct ThemeTests {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    @Test("the binary's themes are the files in Themes/, each parses and sets every slot")
    func shippedThemes() throws {
        let files = try FileManager.default.contentsOfDirectory(atPath: Self.repository.appendingPathComponent("Themes").path)
            .filter { $0.hasSuffix(".toml") }.sorted()
        #expect(files == BuiltinThemeFiles.texts.map { $0.name + ".toml" }.sorted())
        for (name, text) in BuiltinThemeFiles.texts {
            let onDisk = try String(contentsOf: Self.repository.appendingPathComponent("Themes/\(name).toml"), encoding: .utf8)
            #expect(onDisk.trimmingCharacters(in: .newlines) == text.trimmingCharacters(in: .newlines),
                    "Themes/\(name).toml differs from BuiltinThemeFiles.swift: copy the file's text there")
            let theme = try ThemeFile.parse(text, path: "\(name).toml", base: ConsoleTheme(name: "empty"))
            #expect(theme.name == name)
            for slot in ConsoleTheme.slots {
                #expect(text.contains("\n\(slot.name) "), "\(name) sets \(slot.name)")
            }
        }
        #expect(Set(BuiltinThemes.all.map(\.name)) == ["dark", "light", "high-contrast", "monochrome"])
        #expect(BuiltinThemes.defaultTheme.selection == Style(foreground: .rgb(0, 0, 0), background: .rgb(0x5f, 0xaf, 0xff), attributes: [.bold]))
    }

    @Test("style specs: attributes, #rrggbb, palette numbers, ANSI names, 'on' backgrounds; mistakes say what is wrong")
    func styleSpecs() throws {
        #expect(try StyleSpec.parse("bold #5fafff on #1c1c1c") == Style(foreground: .rgb(0x5f, 0xaf, 0xff), background: .rgb(0x1c, 0x1c, 0x1c), attributes: [.bold]))
        #expect(try StyleSpec.parse("dim 244") == Style(foreground: .indexed(244), attributes: [.dim]))
        #expect(try StyleSpec.parse("Bright-Red on default underline") == Style(foreground: .ansi(9), attributes: [.underline]))
        #expect(try StyleSpec.parse("") == Style())
        #expect(throws: StyleSpecError.badColor("#12345")) { try StyleSpec.parse("#12345") }
        #expect(throws: StyleSpecError.badColor("256")) { try StyleSpec.parse("256") }
        #expect(throws: StyleSpecError.badColor("blink")) { try StyleSpec.parse("blink red") }
        #expect(throws: StyleSpecError.missingBackground) { try StyleSpec.parse("red on") }
        #expect(throws: StyleSpecError.twoForegrounds("blue")) { try StyleSpec.parse("red blue") }
        for spec in ["bold #5fafff on #1c1c1c", "dim underline 244", "bright-cyan on blue", "reverse"] {
            #expect(try StyleSpec.parse(StyleSpec.describe(StyleSpec.parse(spec))) == StyleSpec.parse(spec))
        }
    }

    @Test("colours degrade truecolor → 256 → 16 → none; NO_COLOR and terminfo decide the depth")
    func degradation() {
        #expect(Color.rgb(0x5f, 0xaf, 0xff).degraded(to: .trueColor) == .rgb(0x5f, 0xaf, 0xff))
        #expect(Color.rgb(0x5f, 0xaf, 0xff).degraded(to: .indexed256) == .indexed(75))
        #expect(Color.rgb(0xff, 0x5f, 0x5f).degraded(to: .indexed256) == .indexed(203))
        #expect(Color.rgb(0x1c, 0x1c, 0x1c).degraded(to: .indexed256) == .indexed(234))
        #expect(Color.rgb(0xff, 0x5f, 0x5f).degraded(to: .ansi16) == .ansi(9))
        #expect(Color.rgb(0x1c, 0x1c, 0x1c).degraded(to: .ansi16) == .ansi(0))
        #expect(Color.rgb(0x80, 0x80, 0x80).degraded(to: .ansi16) == .ansi(8))
        #expect(Color.indexed(75).degraded(to: .ansi16) == .ansi(12))
        #expect(Color.rgb(1, 2, 3).degraded(to: .none) == .default)
        #expect(ColorDepth.announcesTrueColor("truecolor") && ColorDepth.announcesTrueColor("24bit") && !ColorDepth.announcesTrueColor(nil))
        #expect(ColorDepth.detect(terminfoColors: 256, noColor: false) == .indexed256,
                "COLORTERM alone cannot make curses send 24-bit colour: the terminfo entry must say it")
        #expect(ColorDepth.detect(terminfoColors: 16_777_216, noColor: false) == .trueColor)
        #expect(ColorDepth.detect(terminfoColors: 8, noColor: false) == .ansi16)
        #expect(ColorDepth.detect(terminfoColors: 256, noColor: true) == .none)
        #expect(ColorDepth.detect(terminfoColors: -1, noColor: false) == .none)
        // Without colours the monochrome theme is used, whatever was chosen.
        #expect(BuiltinThemes.named("light")!.resolved(for: .none) == BuiltinThemes.monochrome)
    }

    @Test("a broken theme file: file:line and what is wrong; the console starts with the default theme and says so")
    func brokenTheme() async throws {
        let config = try TemporaryDirectory()
        try FileManager.default.createDirectory(atPath: config.path("themes"), withIntermediateDirectories: true)
        try """
            name = "mine"
            [slots]
            text = "#d0d0d0"
            header = "bold #5fd7zz"
            """.write(toFile: config.path("themes/mine.toml"), atomically: true, encoding: .utf8)
        let catalog = ThemeCatalog(configDirectory: config.url.path)
        let (theme, problem) = catalog.load("mine")
        #expect(theme == BuiltinThemes.defaultTheme)
        #expect(problem?.hasPrefix(config.url.path + "/themes/mine.toml:4: header: unknown colour or attribute '#5fd7zz'") == true, "\(problem ?? "")")
        #expect(catalog.names() == ["dark", "light", "high-contrast", "monochrome", "mine"])

        try "[slots]\nheadr = \"bold\"\n".write(toFile: config.path("themes/typo.toml"), atomically: true, encoding: .utf8)
        #expect(catalog.load("typo").problem?.contains("typo.toml:2: unknown slot 'headr'") == true)
        try "[slots\n".write(toFile: config.path("themes/syntax.toml"), atomically: true, encoding: .utf8)
        #expect(catalog.load("syntax").problem?.contains("syntax.toml:1:") == true)
        #expect(catalog.load("nosuch").problem?.hasPrefix("unknown theme 'nosuch' (dark, light, high-contrast, monochrome, mine, syntax, typo)") == true)

        let fixture = try ConsoleFixture(width: 120, height: 24, theme: "mine", configDirectory: config.url.path)
        try await fixture.login("alice@example.com")
        await fixture.start()
        #expect(fixture.line(3).contains("alice@example.com"))
        #expect(fixture.statusLine.contains("mine.toml:4: header: unknown colour"))
        #expect(fixture.style(x: 0, y: 0) == fixture.themed(\.header))
    }

    @Test("a user theme overrides the slots it names and keeps the default's others")
    func userTheme() throws {
        let theme = try ThemeFile.parse("name = \"ops\"\ndescription = \"x\"\n[slots]\nheader = \"bold red\"\n", path: "ops.toml")
        #expect(theme.name == "ops" && theme.header == Style(foreground: .ansi(1), attributes: [.bold]))
        #expect(theme.selection == BuiltinThemes.defaultTheme.selection)
        #expect(throws: ConfigFileError.self) { try ThemeFile.parse("colour = 1\n", path: "x.toml") }
    }

    @Test("config.toml: theme, refresh, database, [keys]; mistakes are file:line")
    func configFile() throws {
        let config = try ConsoleConfigFile.parse("""
            theme = "light"
            refresh = 1
            database = "~/gh.sqlite"
            [keys]
            revoke = "x"
            quit = ["q", "ctrl-q"]
            pane-limits = "L"
            """, path: "config.toml")
        #expect(config.theme == "light" && config.refresh == 1 && config.database == NSHomeDirectory() + "/gh.sqlite")
        #expect(config.keys == [.revoke: [.character("x")], .quit: [.character("q"), .control("q")], .pane(2): [.character("L")]])
        func error(_ text: String) -> String {
            do { _ = try ConsoleConfigFile.parse(text, path: "config.toml"); return "no error" } catch { return error.description }
        }
        #expect(error("refresh = 0.01\n") == "config.toml:1: refresh must be a number of seconds, at least 0.1")
        #expect(error("theme = \"dark\"\ncolour = 1\n").hasPrefix("config.toml:2: unknown key 'colour'"))
        #expect(error("[keys]\nrevokee = \"x\"\n").hasPrefix("config.toml:2: unknown action 'revokee' (actions: quit, help"))
        #expect(error("[keys]\nrevoke = \"xx\"\n").hasPrefix("config.toml:2: 'xx' is not a key"))
        #expect(error("[keys]\nrevoke = \"x\"\nquit = \"x\"\n") == "config.toml:3: 'x' is already given to revoke")
    }

    @Test("remapped keys act, the old key is free, and ? shows the keys in force")
    func remappedKeys() async throws {
        let fixture = try ConsoleFixture(width: 120, height: 30, keys: [.revoke: [.character("x")], .details: [.character("d")], .pane(2): [.character("L")]])
        try await fixture.login("alice@example.com")
        await fixture.start()
        #expect(fixture.line(29).hasPrefix("x revoke  D revoke user  w why?  d details"))
        await fixture.press(.character("d"))
        #expect(fixture.raw.contains("TOKEN LINEAGE"), "d now opens details")
        await fixture.press(.escape, .character("x"))
        #expect(fixture.raw.contains("Revoke session"))
        await fixture.press(.character("n"), .character("?"))
        #expect(fixture.raw.contains("x                 revoke the selected session"))
        #expect(fixture.raw.contains("d                 details"))
        #expect(fixture.raw.contains("L                 Limits pane"))
        #expect(fixture.raw.contains("(no key)          Limits pane") == false)
        await fixture.press(.end)
        #expect(fixture.raw.contains("Theme dark in 256 colours; keys remapped by config.toml"))
        await fixture.press(.escape, .character("L"))
        #expect(fixture.line(2).hasPrefix("BUCKET"))
    }
}
