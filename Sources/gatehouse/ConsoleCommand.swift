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
    @Option(help: "Seconds between checks for changes (at least 0.1).") var refresh = 0.25
    @Flag(help: "Enable the mouse (off by default so text selection over SSH keeps working).") var mouse = false

    func validate() throws {
        guard refresh >= 0.1 else { throw ValidationError("--refresh must be at least 0.1 seconds") }
    }

    func run() async throws {
        let gatehouse = try database.open(readOnly: readOnly)
        let options = ConsoleOptions(readOnly: readOnly, refreshInterval: refresh,
                                     operatorIdentity: OperatorIdentity.current(via: "console"),
                                     noColor: !(ProcessInfo.processInfo.environment["NO_COLOR"] ?? "").isEmpty)
        let mouse = self.mouse
        // curses wants one thread of its own for its whole life; the loop blocks it.
        let signal: Int32? = try await withCheckedThrowingContinuation { continuation in
            let thread = Thread {
                do {
                    let backend = try NCursesBackend(mouse: mouse)
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
        if let signal { throw ExitCode(128 + signal) }
    }
}
