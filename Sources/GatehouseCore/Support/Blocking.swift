import Foundation

/// Work that blocks a thread (a child process's pipe, a file of millions of lines) runs on a
/// thread of its own, never on Swift's cooperative pool, whose few threads serve every request
/// of `serve`.
enum Blocking {
    static func run<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            Thread.detachNewThread { continuation.resume(with: Result { try body() }) }
        }
    }

    /// Writing to a child that has exited must fail with EPIPE, not end this process.
    static let ignoreBrokenPipes: Void = { signal(SIGPIPE, SIG_IGN) }()
}
