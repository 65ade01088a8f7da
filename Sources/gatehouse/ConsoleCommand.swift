import ArgumentParser
import Foundation
import GatehouseConsole
import GatehouseCore
import TerminalKit

struct ConsoleCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "console",
        abstract: "The operator console: live sessions and refresh tokens, revocation from the keyboard.",
        discussion: "Press ? inside for the keys. The console reads the database file directly, so it works while the server is down.")
    @OptionGroup var database: DatabaseArguments
    @Flag(help: "Open the database read-only and offer no actions.") var readOnly = false
    @Option(parsing: .unconditional, help: "Seconds between checks for changes (at least 0.1; default 0.25 or config.toml's refresh).") var refresh: Double?
    @Flag(help: "Enable the mouse (off by default so text selection over SSH keeps working).") var mouse = false
    @Option(parsing: .unconditional, help: ArgumentHelp("Theme: dark, light, high-contrast, monochrome, a file in ~/.config/gatehouse/themes, or a path.", valueName: "name"))
    var theme: String?
    @Option(parsing: .unconditional, help: ArgumentHelp("The console's config file (default: ~/.config/gatehouse/config.toml).", valueName: "path"))
    var config: String?
    @Flag(help: "List the themes --theme accepts and exit.") var listThemes = false

    func validate() throws {
        if let refresh, refresh < 0.1 { throw ValidationError("--refresh must be at least 0.1 seconds") }
    }

    func run() async throws {
        let configDirectory = ThemeCatalog.defaultConfigDirectory()
        let themes = ThemeCatalog(configDirectory: configDirectory)
        if listThemes {
            for name in themes.names() { say(name, oneLine: true) }
            return
        }
        // A config file that cannot be used must not keep an operator out in an emergency: the
        // console starts with the defaults and shows the error (file:line) on its status line.
        var file = ConsoleConfigFile()
        var notice: String?
        if let path = config ?? ConsoleConfigFile.defaultPath(configDirectory: configDirectory),
           config != nil || FileManager.default.fileExists(atPath: path) {
            do { file = try ConsoleConfigFile.load(path: path) } catch { notice = "\(error.description) (config ignored)" }
        }
        let gatehouse = try database.open(configured: file.database, options: .console(readOnly: readOnly))
        let options = ConsoleOptions(readOnly: readOnly, refreshInterval: refresh ?? file.refresh ?? 0.25,
                                     operatorIdentity: OperatorIdentity.current(via: "console"),
                                     theme: theme ?? file.theme, themes: themes, keys: file.keys, notice: notice)
        let signal = try await ConsoleRunner.run(gatehouse: gatehouse, options: options, mouse: mouse)
        if let signal { throw ExitCode(128 + signal) }
    }
}

/// Runs the console on a real terminal until the person quits or a signal arrives (returned).
enum ConsoleRunner {
    static func run(gatehouse: Gatehouse, options: ConsoleOptions, mouse: Bool) async throws -> Int32? {
        let noColor = !(ProcessInfo.processInfo.environment["NO_COLOR"] ?? "").isEmpty
        // curses wants one thread of its own for its whole life; the loop blocks it.
        return try await withCheckedThrowingContinuation { continuation in
            let thread = Thread {
                do {
                    let backend = try NCursesBackend(mouse: mouse, noColor: noColor)
                    let signals = SignalWatcher()
                    let app = try ConsoleApp(gatehouse: gatehouse, options: options, backend: backend)
                    app.run(stop: { signals.received != nil })
                    backend.shutdown()
                    continuation.resume(returning: signals.received)
                } catch {
                    continuation.resume(throwing: error)
                }
            }
            thread.stackSize = 8 << 20
            thread.start()
        }
    }
}
