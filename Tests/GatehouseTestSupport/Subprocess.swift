import Foundation
import GatehouseCore
#if canImport(Glibc)
import Glibc
#endif

/// A child process for tests (`ChildProcess`), its output in files.
///
/// Output goes to files rather than pipes: a daemonising child (the tmux server) would keep a
/// pipe open forever, and nobody need read a pipe while a test waits.
public final class Subprocess: @unchecked Sendable {
    public struct Result: Sendable {
        public var status: Int32
        public var stdout: String
        public var stderr: String
    }

    private let child: ChildProcess
    public var pid: pid_t { child.pid }
    private let stdoutPath: String
    private let stderrPath: String
    /// Set once the process has ended and its output was read; `waiting` makes a second
    /// `wait()` (a test's and a `defer`'s reaping thread) wait for the first.
    private var result: Result?
    private let waiting = NSLock()

    /// Starts `executable` (a path, or a name looked up in PATH) with `arguments`.
    /// `environment` entries are added to this process's environment; `discardOutput` sends
    /// output to /dev/null.
    public init(_ executable: String, _ arguments: [String], environment: [String: String] = [:],
                removing removed: [String] = [], discardOutput: Bool = false) throws {
        let base = FileManager.default.temporaryDirectory.appendingPathComponent("subprocess-\(UUID().uuidString)").path
        stdoutPath = discardOutput ? "/dev/null" : base + ".out"
        stderrPath = discardOutput ? "/dev/null" : base + ".err"
        var env = ProcessInfo.processInfo.environment
        for name in removed { env.removeValue(forKey: name) }
        for (name, value) in environment { env[name] = value }
        let out = open(stdoutPath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        let err = open(stderrPath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        defer { close(out); close(err) }
        guard out >= 0, err >= 0 else { throw SubprocessError.cannotStart(executable, errno: errno) }
        do {
            child = try ChildProcess(executable, arguments, environment: env, input: .null, output: .descriptor(out), errors: .descriptor(err))
        } catch let error as ChildProcess.StartError {
            throw SubprocessError.cannotStart(executable, errno: error.code)
        }
    }

    public enum SubprocessError: Error { case cannotStart(String, errno: Int32) }

    /// Waits for the exit and returns status and output (once; later calls return the same).
    @discardableResult
    public func wait() -> Result {
        waiting.lock()
        defer { waiting.unlock() }
        if let result { return result }
        let ended = child.wait()
        let finished = Result(status: ended.status, stdout: read(stdoutPath), stderr: read(stderrPath))
        for path in [stdoutPath, stderrPath] where path != "/dev/null" { unlink(path) }
        result = finished
        return finished
    }

    /// SIGTERM, unless the process was already reaped (its pid may be another's by now).
    public func terminate() { child.signal(SIGTERM) }

    public func signal(_ number: Int32) { child.signal(number) }

    /// What the process has written to standard output so far (for a line such as "listening on …").
    public func outputSoFar() -> String { read(stdoutPath) }

    /// What the process has written to standard error so far (log lines, warnings).
    public func errorsSoFar() -> String { read(stderrPath) }

    private func read(_ path: String) -> String {
        path == "/dev/null" ? "" : ((try? String(contentsOfFile: path, encoding: .utf8)) ?? "")
    }

    /// Runs to the end.
    public static func run(_ executable: String, _ arguments: [String], environment: [String: String] = [:],
                           discardOutput: Bool = false) throws -> Result {
        try Subprocess(executable, arguments, environment: environment, discardOutput: discardOutput).wait()
    }
}
