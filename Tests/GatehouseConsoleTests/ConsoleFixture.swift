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

    init(width: Int = 120, height: Int = 30, readOnly: Bool = false, color: Bool = true) throws {
        directory = try TemporaryDirectory()
        var configuration = GatehouseConfiguration()
        for name in ["magic-link-email", "magic-link-ip", "verify", "refresh"] {
            try configuration.rateLimits.override(name, rate: "100000/minute")
        }
        let path = directory.path("console.sqlite")
        let writer = try Gatehouse.open(path: path, options: .init(createIfMissing: true), configuration: configuration, clock: clock)
        gatehouse = readOnly ? try Gatehouse.open(path: path, options: .init(readOnly: true), configuration: configuration, clock: clock) : writer
        self.writer = writer
        backend = MemoryBackend(width: width, height: height, supportsColor: color)
        app = try ConsoleApp(gatehouse: gatehouse, options: ConsoleOptions(operatorIdentity: Self.operatorIdentity), backend: backend)
    }

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

    /// What the server did reaches the console on the next tick.
    func tick() async {
        app.send(.tick)
        await app.settle()
        app.render()
    }

    /// The screen with random handles, fingerprints and the temporary path made stable.
    var screen: String {
        var text = backend.screen.text
        for (pattern, replacement) in [("gatehouse-tests-[0-9A-F-]{36}", "gatehouse-tests-" + String(repeating: "X", count: 36)),("ses_[a-z0-9]{12}", "ses_############"), ("fam_[a-z0-9]{12}", "fam_############"),
                                       ("\\b[0-9a-f]{12}\\b", "############")] {
            text = text.replacingOccurrences(of: pattern, with: replacement, options: .regularExpression)
        }
        return text
    }

    /// The screen as drawn, handles and fingerprints included.
    var raw: String { backend.screen.text }

    func line(_ y: Int) -> String { backend.screen.line(y) }

    /// The status line (prompts and messages), second from the bottom.
    var statusLine: String { backend.screen.line(backend.size.height - 2) }

    func style(x: Int, y: Int) -> Style { backend.screen[x, y].style }
}
