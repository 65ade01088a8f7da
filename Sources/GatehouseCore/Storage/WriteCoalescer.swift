import Foundation
import GRDB
import Synchronization

/// Group commit: write requests that arrive while a transaction is running share the next one.
///
/// A refresh commits ~10 pages (token row and its three indexes, session, audit row and index,
/// sqlite_sequence, rate-limit bucket); most of the cost of a transaction is that commit. When
/// many requests write at once (a server), running them back to back in one `BEGIN IMMEDIATE`
/// transaction writes each shared page once per batch instead of once per request.
///
/// Semantics are those of one transaction per request:
/// - each request runs in its own savepoint, so a request that throws is rolled back alone and
///   gets its error, while the others commit;
/// - nobody is answered before the batch's COMMIT succeeded; if the commit fails, or SQLite
///   aborted the whole transaction (disk full, I/O error), every request of the batch gets the
///   error and nothing of it is kept;
/// - a request that arrives while no batch is running starts one at once (no waiting to fill
///   a batch), so a lone request is not slower than before.
///
/// Each request waits for another process's lock at most `LockWait.limit` from the moment it
/// arrived: a batch waits only until its oldest request's deadline, so a request queued behind a
/// batch that waited does not wait a second full bound.
final class WriteCoalescer: Sendable {
    private let pool: DatabasePool
    private let lockWait: LockWait
    /// Bounds how long the last request of a batch waits behind the others.
    private let maximumBatch = 128

    private struct PendingWrite: Sendable {
        /// Runs the request on the writer connection; captures its own outcome.
        let run: @Sendable (Database, _ alone: Bool) throws -> Void
        /// Answers the caller: nil after a successful commit, else the batch's error.
        let finish: @Sendable ((any Error)?) -> Void
        let arrived: ContinuousClock.Instant
    }

    private struct State {
        var pending: [PendingWrite] = []
        var draining = false
        var statistics = WriteStatistics()
    }

    private let state = Mutex(State())
    /// Where batches run: a thread outside Swift's cooperative pool, so a batch that waits for
    /// another process's lock blocks no task, and statements run on the thread that calls
    /// GRDB's synchronous API (no hop to its queue and back). A request costs two thread
    /// hand-offs: to this queue, and the continuation's resumption.
    private let queue = DispatchQueue(label: "gatehouse.sqlite.writer", qos: .userInitiated)

    init(pool: DatabasePool, lockWait: LockWait) {
        self.pool = pool
        self.lockWait = lockWait
    }

    var statistics: WriteStatistics { state.withLock { $0.statistics } }

    func write<T: Sendable>(_ body: @escaping @Sendable (Database) throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
            let outcome = Mutex<Result<T, any Error>?>(nil)
            let write = PendingWrite(
                run: { db, alone in
                    if alone {
                        // A batch of one is the transaction itself: no savepoint needed, and
                        // its error rolls the transaction back and reaches the caller as before.
                        let value = try body(db)
                        outcome.withLock { $0 = .success(value) }
                        return
                    }
                    var value: T?
                    do {
                        try db.inSavepoint {
                            value = try body(db)
                            return .commit
                        }
                        outcome.withLock { $0 = .success(value!) }
                    } catch {
                        outcome.withLock { $0 = .failure(error) }
                        // SQLite may have rolled back the whole transaction (SQLITE_FULL, IOERR…);
                        // then nothing of this batch can commit.
                        if !db.isInsideTransaction { throw error }
                    }
                },
                finish: { batchError in
                    if let batchError {
                        continuation.resume(throwing: batchError)
                    } else {
                        continuation.resume(with: outcome.withLock { $0 } ?? .failure(CancellationError()))
                    }
                },
                arrived: .now)
            let startDrain = state.withLock { state -> Bool in
                state.pending.append(write)
                if state.draining { return false }
                state.draining = true
                return true
            }
            if startDrain {
                queue.async { [self] in drain() }
            }
        }
    }

    private func drain() {
        while true {
            let batch = state.withLock { state -> [PendingWrite] in
                let batch = Array(state.pending.prefix(maximumBatch))
                state.pending.removeFirst(batch.count)
                if batch.isEmpty { state.draining = false }
                if !batch.isEmpty {
                    state.statistics.transactions += 1
                    state.statistics.requests += batch.count
                }
                return batch
            }
            if batch.isEmpty { return }
            // The deadline only matters if the lock is taken: a free lock is had at once whatever
            // the time (a slow, loaded machine never fails a write that met no other writer).
            // A batch that queued past its bound (a loaded machine) still gets a short try.
            let oldest = batch.map(\.arrived).min() ?? .now
            run(batch, lockWaitUntil: max(oldest + lockWait.limit, .now + LockWait.minimumTry))
        }
    }

    private func run(_ batch: [PendingWrite], lockWaitUntil deadline: ContinuousClock.Instant) {
        do {
            try pool.writeWithoutTransaction { [lockWait] db in
                try lockWait.withDeadline(deadline) {
                    if batch.count == 1 {
                        // One request: its error rolls back its own transaction, as before.
                        try db.inTransaction(.immediate) {
                            try batch[0].run(db, true)
                            return .commit
                        }
                    } else {
                        try db.inTransaction(.immediate) {
                            for job in batch { try job.run(db, false) }
                            return .commit
                        }
                    }
                }
            }
            for job in batch { job.finish(nil) }
        } catch {
            if batch.count == 1 {
                // The request's own error (or its commit's): answer with it.
                batch[0].finish(error)
            } else {
                for job in batch { job.finish(error) }
            }
        }
    }
}

/// How well group commit is doing: requests per transaction is the batching factor.
public struct WriteStatistics: Sendable, Equatable {
    public var transactions = 0
    public var requests = 0
}
