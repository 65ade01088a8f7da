import Foundation
#if canImport(Glibc)
import Glibc
#endif


/// A real terminal for end-to-end tests: tmux on a private socket, driven like a person would.
public final class TmuxSession: @unchecked Sendable {
    public let socket: String
    private let target = "gatehouse-test"
    /// The server's pid: the socket file may be gone (its folder removed) by the time we stop it.
    private var serverPID: pid_t = 0
    /// The pane's process: tmux makes it a session and process-group leader, and the program
    /// under test runs in that group, so the group is everything this test started in the pane.
    private var panePID: pid_t = 0

    /// Starts `command` (a shell command line) in a detached session of the given size.
    public init(socket: String, width: Int = 120, height: Int = 40, command: String) throws {
        self.socket = socket
        let result = try Self.tmux(["-S", socket, "new-session", "-d", "-s", target, "-x", String(width), "-y", String(height), command],
                                   capture: false)
        guard result.status == 0 else { throw TmuxError.failed("new-session: \(result.output)") }
        serverPID = pid_t(display("#{pid}")) ?? 0
        panePID = pid_t(display("#{pane_pid}")) ?? 0
    }

    /// Ends whatever the test left running in the pane, by process group and SIGKILL (a hung
    /// program may ignore the SIGHUP that closing the pane sends), then stops the server: a test
    /// that failed half-way never leaves a process to poison the next one.
    deinit {
        if panePID > 1 { kill(-panePID, SIGKILL) }
        if serverPID > 0 { kill(serverPID, SIGTERM) } else { _ = try? Self.tmux(["-S", socket, "kill-server"], capture: false) }
    }

    public enum TmuxError: Error { case failed(String) }

    /// Keys in tmux's names: "j", "Enter", "Escape", "C-c", or literal text.
    public func send(_ keys: String...) throws {
        _ = try Self.tmux(["-S", socket, "send-keys", "-t", target] + keys)
    }

    /// Types text literally (no key-name lookup).
    public func type(_ text: String) throws {
        _ = try Self.tmux(["-S", socket, "send-keys", "-t", target, "-l", text])
    }

    public func capture() -> String {
        (try? Self.tmux(["-S", socket, "capture-pane", "-p", "-t", target]).output) ?? ""
    }

    /// The pane with its colours and attributes as escape sequences (`capture-pane -e`).
    public func captureWithEscapes() -> String {
        (try? Self.tmux(["-S", socket, "capture-pane", "-p", "-e", "-t", target]).output) ?? ""
    }

    /// Lets programs in the pane set tmux's paste buffer with OSC 52, as a terminal's clipboard.
    public func acceptClipboard() throws {
        _ = try Self.tmux(["-S", socket, "set-option", "-g", "set-clipboard", "on"])
    }

    /// The newest paste buffer ("" when there is none).
    public func pasteBuffer() -> String {
        (try? Self.tmux(["-S", socket, "show-buffer"]))?.output ?? ""
    }

    public func resize(width: Int, height: Int) throws {
        _ = try Self.tmux(["-S", socket, "resize-window", "-t", target, "-x", String(width), "-y", String(height)])
    }

    /// A tmux format value for the pane, e.g. `#{alternate_on}` or `#{pane_pid}`.
    public func display(_ format: String) -> String {
        ((try? Self.tmux(["-S", socket, "display-message", "-p", "-t", target, format]).output) ?? "")
            .trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Polls the screen until `predicate` holds or `timeout` passes; returns the last screen.
    /// The default timeout is generous: a wait returns as soon as the state is there, and a
    /// loaded machine must never fail a test that a quiet one passes.
    @discardableResult
    public func waitFor(timeout: Double = 60, _ predicate: (String) -> Bool) async -> (Bool, String) {
        let deadline = Date().addingTimeInterval(timeout)
        var screen = capture()
        while !predicate(screen) {
            if Date() > deadline { return (false, screen) }
            try? await Task.sleep(for: .milliseconds(25))
            screen = capture()
        }
        return (true, screen)
    }

    public func waitFor(_ text: String, timeout: Double = 60) async -> (Bool, String) {
        await waitFor(timeout: timeout) { $0.contains(text) }
    }

    public static var isAvailable: Bool {
        (try? tmux(["-V"]).status) == 0
    }

    /// Runs tmux. Commands that start the server must not `capture`: its output file would be
    /// held by the daemonised server.
    private static func tmux(_ arguments: [String], capture: Bool = true) throws -> (status: Int32, output: String) {
        let result = try Subprocess.run("tmux", arguments, discardOutput: !capture)
        return (result.status, result.stdout + result.stderr)
    }

    /// Single-quotes a word for the shell command tmux runs.
    public static func quote(_ word: String) -> String {
        "'" + word.replacingOccurrences(of: "'", with: "'\\''") + "'"
    }
}
