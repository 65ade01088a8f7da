import Foundation
import GatehouseCore
import GatehouseTestSupport
import TerminalKit
@testable import GatehouseConsole

/// A console on the in-memory backend over a real database with a manual clock.

final class ConsoleFixture {
    let directory: TemporaryDirectory
    let clock = ManualClock()
    let gatehouse: Gatehouse
    let backend: MemoryBackend
    let app: ConsoleApp
    static let operatorIdentity = OperatorIdentity(name: "oncall", sshClient: "203.0.113.9", via: "console")

    init(width: Int = 120, height: Int = 30, readOnly: Bool = false, color: Bool = true, colorDepth: ColorDepth? = nil,
         theme: String? = nil, configDirectory: String? = nil, keys: [ConsoleAction: [Key]] = [:],
         refreshInterval: Double = 0.25) throws {
        directory = try TemporaryDirectory()
        var configuration = GatehouseConfiguration()
        for name in ["magic-link-email", "magic-link-ip", "verify", "refresh"] {
            try configuration.rateLimits.override(name, rate: "100000/minute")
        }
        let path = try directory.database("console")
        self.path = path
        let writer = try Gatehouse.open(path: path, options: TestEngine.options(createIfMissing: true), configuration: configuration, clock: clock)
        gatehouse = readOnly ? try Gatehouse.open(path: path, options: TestEngine.options(readOnly: true), configuration: configuration, clock: clock) : writer
        self.writer = writer
        backend = MemoryBackend(width: width, height: height, colorDepth: colorDepth ?? (color ? .indexed256 : .none))
        app = try ConsoleApp(gatehouse: gatehouse, options: ConsoleOptions(refreshInterval: refreshInterval, operatorIdentity: Self.operatorIdentity, theme: theme,
                                                                           themes: ThemeCatalog(configDirectory: configDirectory), keys: keys),
                             backend: backend)
    }

    /// What `--db` takes for this console's database.
    let path: String

    /// The connection that plays the server: logins come through it.
    let writer: Gatehouse

    @discardableResult
    func login(_ email: String, kind: Session.Kind = .api, ip: String = "198.51.100.7") async throws -> Login {
        let context = ClientContext(ip: ip, userAgent: "Mozilla/5.0 (X11; Linux x86_64)")
        let link = try await writer.magicLinks.requestMagicLink(email: email, context: context)
        return try await writer.magicLinks.verifyMagicLink(token: link.token.value, kind: kind, context: context)
    }

    func start() async {
        app.start()
        await app.settle()
        app.render()
    }

    /// Presses keys one by one, letting each finish its database work, then draws.
    func press(_ keys: Key...) async {
        for key in keys {
            app.send(.key(key))
            await app.settle()
        }
        app.render()
    }

    func type(_ text: String) async {
        for character in text { app.send(.key(.character(character))) }
        await app.settle()
        app.render()
    }

    /// Runs a `:` command as typed: the colon, the text, enter.
    func command(_ text: String) async {
        await press(.character(":"))
        await type(text)
        await press(.enter)
    }

    /// What the server did reaches the console on the next tick.
    func tick() async {
        app.send(.tick)
        await app.settle()
        app.render()
    }

    /// The screen with random handles, fingerprints and the temporary path made stable. Each
    /// match becomes '#' characters of the same width, so truncated handles and columns stay put.
    var screen: String {
        var text = backend.screen.text
        for pattern in ["(?<=gatehouse-tests-)[0-9A-F-]{36}", "(?<=ses_|fam_)[a-z0-9]{1,12}", "(?<=signing_key:)[A-Za-z0-9_-]{1,12}", "\\b[0-9a-f]{12}\\b"] {
            let regex = try! NSRegularExpression(pattern: pattern)
            for match in regex.matches(in: text, range: NSRange(text.startIndex..., in: text)).reversed() {
                let range = Range(match.range, in: text)!
                text.replaceSubrange(range, with: String(repeating: pattern.hasPrefix("(?<=gate") ? "X" : "#", count: text[range].count))
            }
        }
        return text
    }

    /// The screen with its styles: the stable text, then a grid with one letter per distinct
    /// style, then what each letter stands for (as theme files write styles). Golden files hold this.
    var styledScreen: String {
        let screen = backend.screen
        var letters: [Style: Character] = [:]
        var legend: [String] = []
        let alphabet = Array("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
        var grid: [String] = []
        for y in 0..<screen.size.height {
            var row = ""
            for x in 0..<screen.size.width {
                let style = screen[x, y].style
                if letters[style] == nil {
                    let letter = alphabet[min(letters.count, alphabet.count - 1)]
                    letters[style] = letter
                    legend.append("\(letter) = \(StyleSpec.describe(style))")
                }
                row.append(letters[style]!)
            }
            grid.append(row)
        }
        return self.screen + "\n--- styles ---\n" + grid.joined(separator: "\n") + "\n--- legend ---\n" + legend.joined(separator: "\n") + "\n"
    }

    /// The screen as drawn, handles and fingerprints included.
    var raw: String { backend.screen.text }

    func line(_ y: Int) -> String { backend.screen.line(y) }

    /// The status line (prompts and messages), second from the bottom.
    var statusLine: String { backend.screen.line(backend.size.height - 2) }

    func style(x: Int, y: Int) -> Style { backend.screen[x, y].style }

    /// A slot of the theme in force as it reaches the screen (256 colours, on the theme's text and background).
    func themed(_ slot: KeyPath<ConsoleTheme, Style>) -> Style {
        let theme = BuiltinThemes.defaultTheme.resolved(for: backend.colorDepth)
        var buffer = Buffer(size: Size(width: 1, height: 1), fill: Cell(" ", style: theme[keyPath: slot]))
        buffer.applyBase(theme.base)
        return buffer[0, 0].style
    }
}
