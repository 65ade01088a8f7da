import Foundation
import GRDB
import Synchronization

/// How long a write waits for another process's write lock: one bound per request, however the
/// request is queued.
///
/// SQLite's `busy_timeout` bounds each statement's wait. A request that waited in the group-commit
/// queue behind a batch that itself waited would then wait twice (the field saw 9–10 s against
/// a documented 5 s). Here the busy handler waits until a deadline instead: the writer sets it
/// from the moment the oldest request of a batch arrived (`withDeadline`); outside a batch (the
/// pool's own setup, a CLI's single write) it is `limit` after the wait began.
///
/// Only the pool's one writer connection uses it (GRDB serialises it, so the shared state is
/// touched by one thread at a time); the pool's readers keep GRDB's own 10 s busy timeout,
/// which only WAL recovery by another process can reach.
final class LockWait: Sendable {
    let limit: Duration
    /// What a batch that queued past `limit` still waits for the lock: one contended moment
    /// must not fail a whole batch at its first try.
    static let minimumTry: Duration = .milliseconds(250)
    private let deadline = Mutex<ContinuousClock.Instant?>(nil)
    private let waitStarted = Mutex<ContinuousClock.Instant?>(nil)

    init(seconds: TimeInterval) {
        limit = .milliseconds(Int64(seconds * 1000))
    }

    /// Pauses between tries, in milliseconds: short, and never longer than 5 ms. SQLite's own
    /// back-off (sqliteDefaultBusyCallback: 1, 2, 5, 10 … up to 100 ms) lets a waiter sleep
    /// 100 ms through a lock held for 2: two `serve` nodes on one file (or serve beside a
    /// worker) saw p99 of 218–336 ms with it. A try costs a system call or two; 200 a second
    /// while the lock is held elsewhere is cheap beside a request that sleeps for nothing.
    private static let pauses: [Int64] = [1, 1, 2, 2, 3, 5]

    /// GRDB's busy callback: true to try again, false to give up with `SQLITE_BUSY`.
    var busyMode: Database.BusyMode {
        .callback { [self] tries in shouldRetry(tries: Int(tries)) }
    }

    private func shouldRetry(tries: Int) -> Bool {
        let now = ContinuousClock.now
        if tries == 0 { waitStarted.withLock { $0 = now } }
        let until = deadline.withLock { $0 } ?? (waitStarted.withLock { $0 } ?? now) + limit
        guard now < until else { return false }
        let pause = min(Duration.milliseconds(Self.pauses[min(tries, Self.pauses.count - 1)]), until - now)
        Thread.sleep(forTimeInterval: Double(pause.components.attoseconds) / 1e18 + Double(pause.components.seconds))
        return true
    }

    /// Runs `body` (on the writer connection) with lock waits ending at `until`.
    func withDeadline<T>(_ until: ContinuousClock.Instant, _ body: () throws -> T) rethrows -> T {
        deadline.withLock { $0 = until }
        defer { deadline.withLock { $0 = nil } }
        return try body()
    }
}
