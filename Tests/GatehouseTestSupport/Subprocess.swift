import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// A child process for tests, started with posix_spawn and reaped with waitpid.
///
/// Output goes to files rather than pipes: a daemonising child (the tmux server) would keep a
/// pipe open forever, and Foundation's Process was seen to notice exits late when many tests
/// wait at once.
public final class Subprocess: @unchecked Sendable {
    public struct Result: Sendable {
        public var status: Int32
        public var stdout: String
        public var stderr: String
    }

    public let pid: pid_t
    private let stdoutPath: String
    private let stderrPath: String
    /// Set once the process is reaped. `waiting` makes a second `wait()` (a test's and a
    /// `defer`'s reaping thread) wait for the first instead of racing it to `waitpid`;
    /// `reaped` is what `terminate` checks without waiting.
    private var result: Result?
    private let waiting = NSLock()
    private let reaped = Mutex(false)

    /// Starts `executable` (a path, or a name looked up in PATH) with `arguments`.
    /// `environment` entries are added to this process's environment; `discardOutput` sends
    /// output to /dev/null.
    public init(_ executable: String, _ arguments: [String], environment: [String: String] = [:],
                removing removed: [String] = [], discardOutput: Bool = false) throws {
        let base = FileManager.default.temporaryDirectory.appendingPathComponent("subprocess-\(UUID().uuidString)").path
        stdoutPath = discardOutput ? "/dev/null" : base + ".out"
        stderrPath = discardOutput ? "/dev/null" : base + ".err"
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, stdoutPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        posix_spawn_file_actions_addopen(&actions, 2, stderrPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        // Nothing else of the test process's: a socket a test holds (a raw HTTP connection)
        // must close when that test closes it, not live on in a server another test started.
        _ = Self.closeFrom?(&actions, 3)
        var env = ProcessInfo.processInfo.environment
        for name in removed { env.removeValue(forKey: name) }
        for (name, value) in environment { env[name] = value }
        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        let envp = env.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { (argv + envp).forEach { free($0) } }
        // The child starts with no signal blocked and every handler at its default, as
        // Foundation's Process does: a thread of this process (Dispatch, NIO) may block SIGTERM,
        // and a child inheriting that mask never stops on it (the SMTP relays of the mail tests
        // outlived their runs).
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var none = sigset_t(), all = sigset_t()
        sigemptyset(&none)
        sigfillset(&all)
        posix_spawnattr_setsigmask(&attributes, &none)
        posix_spawnattr_setsigdefault(&attributes, &all)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        var pid: pid_t = 0
        let status = posix_spawnp(&pid, executable, &actions, &attributes, argv, envp)
        guard status == 0 else { throw SubprocessError.cannotStart(executable, errno: status) }
        self.pid = pid
    }

    /// glibc's `posix_spawn_file_actions_addclosefrom_np` (2.34+), looked up at run time: the
    /// Glibc module does not export it.
    private static let closeFrom: (@convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32)? =
        dlsym(nil, "posix_spawn_file_actions_addclosefrom_np").map { unsafeBitCast($0, to: (@convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32).self) }

    public enum SubprocessError: Error { case cannotStart(String, errno: Int32) }

    /// Waits for the exit and returns status and output (once; later calls return the same).
    @discardableResult
    public func wait() -> Result {
        waiting.lock()
        defer { waiting.unlock() }
        if let result { return result }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) == -1 && errno == EINTR {}
        let exit = (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
        let finished = Result(status: exit, stdout: read(stdoutPath), stderr: read(stderrPath))
        for path in [stdoutPath, stderrPath] where path != "/dev/null" { unlink(path) }
        result = finished
        reaped.withLock { $0 = true }
        return finished
    }

    /// SIGTERM, unless the process was already reaped (its pid may be another's by now).
    public func terminate() { reaped.withLock { if !$0 { kill(pid, SIGTERM) } } }

    public func signal(_ number: Int32) { kill(pid, number) }

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
