import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// A child process started with `posix_spawn` and reaped with `waitpid`: the one way Gatehouse
/// (and its tests and bench) starts a program (`gzip` for audit archives, the `sendmail`
/// program for mail).
///
/// Not Foundation's `Process`: on Linux its `run()` copies a fixed 256 bytes of every
/// `/proc/self/fd` entry that `readdir` returns (`findMaximumOpenFromProcSelfFD`), reading past
/// glibc's buffer, and the process dies with SIGSEGV when the next page is unmapped
/// (swiftlang/swift-corelibs-foundation#5472, fixed after Swift 6.3.1). It killed a test run
/// here (`Process.run() + 6428` → `memcpy`, from `GzipFile.write`); `serve` and `worker` spawn
/// the same way, with as many descriptors open.
///
/// The child gets only its three standard streams (every other descriptor is closed in it),
/// no blocked signal and default handlers (a thread here may block SIGTERM; a child that
/// inherited that mask would never stop on it), and optionally a process group of its own.
public final class ChildProcess: Sendable {
    /// What one of the child's standard streams is.
    public enum Stream: Sendable {
        /// This process's own.
        case inherit
        /// `/dev/null`.
        case null
        /// A descriptor the caller keeps (a file, a pipe end); duplicated into the child.
        case descriptor(Int32)
        /// A new pipe: the child's end is its stream, this process's end is `input` (for the
        /// child's standard input) or `output` / `errors`.
        case pipe
        /// Standard error only: whatever standard output is.
        case sameAsOutput
    }

    /// How the child ended.
    public enum Termination: Sendable, Equatable {
        case exited(Int32)
        case signalled(Int32)
        /// The status could not be collected (SIGCHLD ignored, or reaped elsewhere): never
        /// taken for success.
        case lost

        /// The shell's convention: the exit status, or 128 + the signal; -1 when lost.
        public var status: Int32 {
            switch self {
            case .exited(let code): code
            case .signalled(let signal): 128 + signal
            case .lost: -1
            }
        }
    }

    public struct StartError: Error, CustomStringConvertible {
        public var program: String
        public var code: Int32
        public var description: String { "cannot run \(program): \(String(cString: strerror(code)))" }
    }

    public let pid: pid_t
    /// True when the child leads a process group of its own (`processGroup`).
    public let leadsGroup: Bool
    /// This process's ends of the pipes asked for (`.pipe`), else nil; closed on release.
    public let input: FileHandle?
    public let output: FileHandle?
    public let errors: FileHandle?

    /// Filled in by the thread that reaps the child.
    private final class Reaping: Sendable {
        let termination = Mutex<Termination?>(nil)
        let exited = DispatchSemaphore(value: 0)
    }
    private let reaping = Reaping()

    /// Starts `program` (a path; a bare name is looked up in PATH) with `arguments`.
    /// `environment` replaces this process's when given. Throws `StartError` when the program
    /// cannot be started (not found, not executable).
    public init(_ program: String, _ arguments: [String], environment: [String: String]? = nil,
                input inputStream: Stream = .null, output outputStream: Stream = .inherit, errors errorStream: Stream = .inherit,
                processGroup: Bool = false) throws {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        // Pipe ends: (ours, the child's), both close-on-exec here.
        var pipes: [Int32: (ours: Int32, theirs: Int32)] = [:]
        var failure: Int32 = 0
        for (target, stream) in [(Int32(0), inputStream), (1, outputStream), (2, errorStream)] {
            switch stream {
            case .inherit: break
            case .null:
                posix_spawn_file_actions_addopen(&actions, target, "/dev/null", target == 0 ? O_RDONLY : O_WRONLY, 0)
            case .descriptor(let descriptor):
                posix_spawn_file_actions_adddup2(&actions, descriptor, target)
            case .sameAsOutput:
                posix_spawn_file_actions_adddup2(&actions, 1, target)
            case .pipe:
                var ends: [Int32] = [-1, -1]
                guard pipe(&ends) == 0 else { failure = errno; break }
                // (Glibc does not export pipe2; every spawn closes what is not its own anyway.)
                for end in ends { _ = fcntl(end, F_SETFD, FD_CLOEXEC) }
                // [0] reads, [1] writes: the child reads its input and writes the others.
                pipes[target] = target == 0 ? (ends[1], ends[0]) : (ends[0], ends[1])
                posix_spawn_file_actions_adddup2(&actions, pipes[target]!.theirs, target)
            }
        }
        // Nothing else of this process's: a listening socket, a database file.
        _ = Self.closeFrom?(&actions, 3)

        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var none = sigset_t(), all = sigset_t()
        sigemptyset(&none)
        sigfillset(&all)
        posix_spawnattr_setsigmask(&attributes, &none)
        posix_spawnattr_setsigdefault(&attributes, &all)
        var flags = POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF
        if processGroup {
            posix_spawnattr_setpgroup(&attributes, 0)
            flags |= POSIX_SPAWN_SETPGROUP
        }
        posix_spawnattr_setflags(&attributes, Int16(flags))

        let argv = ([program] + arguments).map { strdup($0) } + [nil]
        let envp = (environment ?? ProcessInfo.processInfo.environment).map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { (argv + envp).forEach { free($0) } }
        var pid: pid_t = 0
        if failure == 0 { failure = posix_spawnp(&pid, program, &actions, &attributes, argv, envp) }
        for ends in pipes.values { close(ends.theirs) }
        guard failure == 0 else {
            for ends in pipes.values { close(ends.ours) }
            throw StartError(program: program, code: failure)
        }
        self.pid = pid
        leadsGroup = processGroup
        input = pipes[0].map { FileHandle(fileDescriptor: $0.ours, closeOnDealloc: true) }
        output = pipes[1].map { FileHandle(fileDescriptor: $0.ours, closeOnDealloc: true) }
        errors = pipes[2].map { FileHandle(fileDescriptor: $0.ours, closeOnDealloc: true) }
        // Reaped on a thread of its own, so that `wait(until:)` can give up and a waiter need
        // not be the one to reap. The exit is awaited without reaping (WNOWAIT), then reaped
        // and recorded in one step under the lock `signal` takes: a signal never reaches a pid
        // the system may have given to another process.
        Thread.detachNewThread { [reaping, pid] in
            var info = siginfo_t()
            while waitid(P_PID, id_t(pid), &info, WEXITED | WNOWAIT) == -1 && errno == EINTR {}
            reaping.termination.withLock { termination in
                var status: Int32 = 0
                var reaped: pid_t
                repeat { reaped = waitpid(pid, &status, 0) } while reaped == -1 && errno == EINTR
                termination = reaped != pid ? .lost
                    : (status & 0x7f) == 0 ? .exited((status >> 8) & 0xff) : .signalled(status & 0x7f)
            }
            reaping.exited.signal()
        }
    }

    /// glibc's `posix_spawn_file_actions_addclosefrom_np` (2.34+), looked up at run time: the
    /// Glibc module does not export it. Without it (an older glibc) the child still gets none
    /// of Gatehouse's own descriptors, which are all opened close-on-exec.
    private static let closeFrom: (@convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32)? =
        dlsym(nil, "posix_spawn_file_actions_addclosefrom_np").map {
            unsafeBitCast($0, to: (@convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32).self)
        }

    /// How the child ended, or nil while it runs.
    public var termination: Termination? { reaping.termination.withLock { $0 } }

    /// Blocks until the child has ended.
    @discardableResult
    public func wait() -> Termination {
        reaping.exited.wait()
        reaping.exited.signal()                     // for the next waiter
        return termination!
    }

    /// Blocks until the child has ended or `deadline` passed (nil then).
    public func wait(until deadline: DispatchTime) -> Termination? {
        guard reaping.exited.wait(timeout: deadline) == .success else { return nil }
        reaping.exited.signal()
        return termination
    }

    /// Sends `number` to the child unless it has been reaped, and with `group` to its process
    /// group (when it leads one) even then: what it started may outlive it (the group's id
    /// stays taken while any member lives).
    public func signal(_ number: Int32, group: Bool = false) {
        reaping.termination.withLock { ended in
            if group && leadsGroup { kill(-pid, number) }
            if ended == nil { kill(pid, number) }
        }
    }
}
