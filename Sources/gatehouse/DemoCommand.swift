import ArgumentParser
import Foundation
import GatehouseConsole
import GatehouseCore
import GatehouseDemo
import GatehouseServer
import Logging
import ServiceLifecycle
import TerminalKit

struct DemoCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "Live traffic into a fresh database, with the console on top.",
        discussion: """
            Starts the HTTP API on a free loopback port with a worker, a traffic simulator that drives it over HTTP \
            (logins, refreshes, a rate limit hit, browser logins with cookie regeneration, a replayed refresh token, \
            a duplicated payment webhook, document jobs), and opens the console on the database. Quitting the \
            console stops everything and says where the database is.
            """)
    @Option(parsing: .unconditional, help: ArgumentHelp("The database: a file or a postgres:// URL (default: a fresh SQLite file in a temporary directory).", valueName: "path-or-url")) var db: String?
    @Option(parsing: .unconditional, help: "Requests per second the simulated clients send together.") var rate = 20.0
    @Flag(help: "No console: print a line a second with counts; stop with Ctrl-C.") var headless = false
    @Option(parsing: .unconditional, help: ArgumentHelp("The console's theme.", valueName: "name")) var theme: String?

    func validate() throws {
        guard rate > 0 && rate <= 2000 else { throw ValidationError("--rate must be between 0 and 2000 requests per second") }
    }

    func run() async throws {
        guard headless || (isatty(STDIN_FILENO) == 1 && isatty(STDOUT_FILENO) == 1) else {
            throw CLIError.usage("the demo opens the console, which needs a terminal; use --headless to run it without one")
        }
        let path = try db ?? Self.temporaryDatabase()
        let gatehouse = try Gatehouse.open(path: path, options: DatabaseOptions(createIfMissing: true))
        _ = try await CLIError.wrap(gatehouse) { try await gatehouse.accessTokens.keyID() }

        var options = ServerOptions()
        options.host = "127.0.0.1"
        options.port = 0
        options.dev = true              // magic-link tokens come back in responses: the simulator is the mailbox
        options.insecureCookies = true  // plain HTTP on loopback
        options.trustProxy = true       // each simulated client has its own address in X-Forwarded-For
        options.cookieName = "gatehouse_demo_session"
        options.webhookSecret = "whsec_demo_" + SecretToken.generate().value
        options.workers = 1
        if gatehouse.database.dialect == .postgres {
            // The demo's documents are scratch, like its default database: a temporary folder.
            options.dataDirectory = try Self.temporaryFolder().appendingPathComponent("documents").path
        }
        // Log lines would draw over the console; the demo shows what happens on its panes instead.
        let logger = Logger(label: "gatehouse-demo", factory: { _ in SwiftLogNoOpLogHandler() })
        let server = GatehouseServer(gatehouse: gatehouse, options: options)
        let (ports, portSink) = AsyncStream.makeStream(of: Int.self)
        let application = server.makeApplication(logger: logger) { port in portSink.yield(port) }
        let group = ServiceGroup(configuration: .init(services: [application], logger: logger))
        let serving = Task { try await group.run() }
        var iterator = ports.makeAsyncIterator()
        guard let port = await iterator.next() else { throw CLIError.failed("the API did not start") }

        let simulator = TrafficSimulator(options: .init(base: "http://127.0.0.1:\(port)", rate: rate,
                                                        webhookSecret: options.webhookSecret!, cookieName: options.cookieName))
        let traffic = Task { await simulator.run() }
        let started = Date()
        var signal: Int32?
        if headless {
            // `say` is unbuffered: a line a second arrives each second, piped or not.
            say("gatehouse demo: API on http://127.0.0.1:\(port), database \(gatehouse.database.path); Ctrl-C stops")
            let signals = SignalWatcher()
            while signals.received == nil {
                try? await Task.sleep(for: .seconds(1))
                say(DemoStats.line(simulator.stats.snapshot, seconds: Int(Date().timeIntervalSince(started).rounded())))
            }
        } else {
            let consoleOptions = ConsoleOptions(operatorIdentity: OperatorIdentity.current(via: "console"), theme: theme,
                                                themes: ThemeCatalog(configDirectory: ThemeCatalog.defaultConfigDirectory()),
                                                notice: "demo: API on http://127.0.0.1:\(port), \(Int(rate)) requests/s of simulated traffic; q stops it all")
            signal = try await ConsoleRunner.run(gatehouse: gatehouse, options: consoleOptions, mouse: false)
        }

        traffic.cancel()
        await traffic.value
        await group.triggerGracefulShutdown()
        try? await serving.value
        try gatehouse.database.close()
        let counts = simulator.stats.snapshot
        say(DemoStats.line(counts, seconds: Int(Date().timeIntervalSince(started).rounded())))
        say("demo stopped; the database is at \(gatehouse.database.path)")
        say("look again with: gatehouse console --db \(Self.shellQuoted(gatehouse.database.path))")
        if let signal, signal != SIGINT { throw ExitCode(128 + signal) }
    }

    static func temporaryDatabase() throws -> String {
        try temporaryFolder().appendingPathComponent("demo.sqlite").path
    }

    /// A fresh `gatehouse-demo-…` folder in the system's temporary directory.
    static func temporaryFolder() throws -> URL {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("gatehouse-demo-\(UUID().uuidString.prefix(8).lowercased())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        return directory
    }

    /// `text` as one shell word: as is when it is plain, else in single quotes (a URL's `&`
    /// and `?` would otherwise be taken by the shell).
    static func shellQuoted(_ text: String) -> String {
        let plain = text.unicodeScalars.allSatisfy { $0.isASCII && (CharacterSet.alphanumerics.contains($0) || "_./:@%+=-".unicodeScalars.contains($0)) }
        return plain ? text : "'" + text.replacingOccurrences(of: "'", with: "'\\''") + "'"
    }
}
