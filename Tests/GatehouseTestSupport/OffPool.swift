import Foundation

/// Runs `work`, which blocks its thread (waitpid, a bulk seed, a synchronous connection), on a
/// thread of its own, and waits for it without holding a thread of Swift's cooperative pool.
/// That pool has one thread per core (two on CI) and every test of the run shares it: a test
/// that blocks one of them stalls the others' database leases, timers and HTTP answers.
public func offPool<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        Thread.detachNewThread { continuation.resume(with: Result { try work() }) }
    }
}

extension Subprocess {
    /// SIGTERM, and the reaping on a thread of its own: what a test's `defer` calls, which must
    /// not hold a thread of the cooperative pool while a server drains.
    public func stop() {
        terminate()
        Thread.detachNewThread { self.wait() }
    }

    /// `wait()` without holding a thread of the cooperative pool while the process runs.
    public func exit() async -> Result {
        // wait() does not throw.
        try! await offPool { self.wait() }
    }
}

extension Subprocess {
    /// Runs to the end without holding a thread of the cooperative pool. In an async context
    /// this overload is the one chosen, so a test cannot block the pool on a child by accident;
    /// the synchronous `run` stays for synchronous helpers (a tmux command, a probe at start).
    public static func run(_ executable: String, _ arguments: [String], environment: [String: String] = [:],
                           discardOutput: Bool = false) async throws -> Result {
        try await Subprocess(executable, arguments, environment: environment, discardOutput: discardOutput).exit()
    }
}
