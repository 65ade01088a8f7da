import Foundation
import GatehouseCore
import Synchronization
import TerminalKit

/// How the console was started.
public struct ConsoleOptions: Sendable {
    public var readOnly: Bool
    /// Seconds between checks for changes (0.1 at the least).
    public var refreshInterval: Double
    public var operatorIdentity: OperatorIdentity
    /// The theme name or path (nil: the default theme), found through `themes`.
    public var theme: String?
    public var themes: ThemeCatalog
    /// Keys the config file remaps.
    public var keys: [ConsoleAction: [Key]]
    /// Shown on the status line at start: a config or theme file that could not be used.
    public var notice: String?

    public init(readOnly: Bool = false, refreshInterval: Double = 0.25, operatorIdentity: OperatorIdentity,
                theme: String? = nil, themes: ThemeCatalog = ThemeCatalog(configDirectory: nil), keys: [ConsoleAction: [Key]] = [:],
                notice: String? = nil) {
        self.readOnly = readOnly
        self.theme = theme
        self.themes = themes
        self.keys = keys
        self.notice = notice
        self.refreshInterval = max(0.1, refreshInterval)
        self.operatorIdentity = operatorIdentity
    }
}

/// The console's loop: events and command results in, frames out.
///
/// Everything here runs on one thread, the one that owns the backend (curses is not
/// thread-safe). Database work runs in tasks whose results come back through `inbox`.
public final class ConsoleApp {
    private let backend: any Backend
    private let terminal: Terminal
    private let options: ConsoleOptions
    private let update: ConsoleUpdate
    private let clock: any GatehouseClock
    private var model: ConsoleModel
    private let inbox = Inbox()
    private let changes: ChangeDetector
    /// Commands started and not yet answered; tests wait for zero.
    private var inFlight = 0
    private var lastTick = Date.distantPast

    final class Inbox: Sendable {
        private let messages = Mutex<[ConsoleMessage]>([])
        func post(_ message: ConsoleMessage) { messages.withLock { $0.append(message) } }
        func take() -> [ConsoleMessage] { messages.withLock { queue in defer { queue.removeAll() }; return queue } }
    }

    public init(gatehouse: Gatehouse, options: ConsoleOptions, backend: any Backend) throws {
        self.backend = backend
        terminal = Terminal(backend: backend)
        self.options = options
        clock = gatehouse.clock
        changes = try ChangeDetector(database: gatehouse.database)
        update = ConsoleUpdate(data: ConsoleDataSource(gatehouse: gatehouse, changes: changes, actor: .operator(options.operatorIdentity)))
        let (theme, problem) = options.themes.load(options.theme)
        model = ConsoleModel(readOnly: options.readOnly || gatehouse.database.options.readOnly, size: backend.size,
                             databasePath: gatehouse.database.path,
                             operatorName: options.operatorIdentity.name + (options.operatorIdentity.sshClient.map { "@\($0)" } ?? ""),
                             theme: theme.resolved(for: backend.colorDepth), colorDepth: backend.colorDepth, themes: options.themes,
                             keys: options.keys)
        if let notice = [options.notice, problem].compactMap({ $0 }).joined(separator: "; ").nilIfEmpty {
            model.message = StatusMessage(text: notice, kind: .error)
        }
    }

    /// Runs until the person quits or `stop` says so. Blocks the calling thread.
    public func run(stop: () -> Bool = { false }) {
        start()
        var lastFrame = Date.distantPast
        while !model.quit && !stop() {
            let event = backend.nextEvent(timeout: 0.05)
            if let event { send(.event(event)) }
            let delivered = pump()
            // Draw after anything happened, and once a second for the countdowns; an idle
            // console then costs a poll, not a frame, every 50 ms.
            if event != nil || delivered > 0 || Date().timeIntervalSince(lastFrame) >= 1 {
                render()
                lastFrame = Date()
            }
        }
    }

    /// Loads the first windows; the loop or a test calls this once.
    public func start() {
        // The change detector's first answer is "changed": one extra windowed read on the first
        // tick, rather than a database read on this (the curses) thread.
        execute(update.reloadAll(&model))
        lastTick = Date()
    }

    /// Feeds one message through `update` and starts the commands it returns.
    func send(_ message: ConsoleMessage) {
        execute(update.update(&model, message, now: clock.now()))
        if let text = model.clipboard {
            model.clipboard = nil
            backend.setClipboard(text)
        }
    }

    public func send(_ event: Event) { send(.event(event)) }

    /// Delivers finished command results and, when due, a tick. Returns how many results it delivered.
    @discardableResult
    public func pump() -> Int {
        let messages = inbox.take()
        for message in messages {
            inFlight -= 1
            send(message)
        }
        if Date().timeIntervalSince(lastTick) >= options.refreshInterval {
            lastTick = Date()
            send(.tick)
        } else if changes.answersWithoutIO, (try? changes.hasChanged()) == true {
            // A NOTIFY came: reload now rather than at the tick. (A listener that is down
            // throws here; the tick's own check puts that on the status line.)
            send(.databaseChanged(true))
        }
        return messages.count
    }

    /// Draws the current model; only changed cells reach the terminal.
    @discardableResult
    public func render() -> Buffer {
        let now = clock.now()
        let model = self.model
        return terminal.draw { buffer in
            ConsoleView.render(model, theme: model.theme, now: now, into: &buffer)
            buffer.applyBase(model.theme.base)
        }
    }

    public var isFinished: Bool { model.quit }

    /// Waits until every started command has answered and been applied (for tests). It returns
    /// as soon as that holds: the timeout is only a guard against a command that never answers,
    /// generous so that a loaded machine is never mistaken for one.
    public func settle(timeout: Double = 120) async {
        let deadline = Date().addingTimeInterval(timeout)
        repeat {
            pump()
            if inFlight == 0 { return }
            try? await Task.sleep(for: .milliseconds(2))
        } while Date() < deadline
    }

    private func execute(_ commands: [ConsoleCommand]) {
        for command in commands {
            inFlight += 1
            let inbox = self.inbox
            Task.detached { inbox.post(await command()) }
        }
    }
}

private extension String {
    var nilIfEmpty: String? { isEmpty ? nil : self }
}
