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
/// - a request that arrives while no batch is running runs at once, on the caller's own thread
///   (`inline`), when it can do so cheaply: a lone request pays no thread hand-off.
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
        /// Callers inside `write` (running, queued, or about to decide), and when last there were
        /// two or more: the load signal for running inline.
        var inFlight = 0
        var lastConcurrent: ContinuousClock.Instant?
        /// Users of the writer connection outside the coalescer (`outside`) right now.
        var outside = 0
        var statistics = WriteStatistics()
    }

    private let state = Mutex(State())
    /// Where batches run: a thread outside Swift's cooperative pool, so a batch that waits for
    /// another process's lock blocks no task, and statements run on the thread that calls
    /// GRDB's synchronous API (no hop to its queue and back). A request costs two thread
    /// hand-offs: to this queue, and the continuation's resumption.
    private let queue = DispatchQueue(label: "gatehouse.sqlite.writer", qos: .userInitiated)

    /// WAL checkpoints, run between batches rather than inside a commit.
    private let checkpoints: WALCheckpoints

    init(pool: DatabasePool, lockWait: LockWait, checkpoints: WALCheckpoints) {
        self.pool = pool
        self.lockWait = lockWait
        self.checkpoints = checkpoints
    }

    var statistics: WriteStatistics { state.withLock { $0.statistics } }
    /// Inline writes declined after they began (the lock held elsewhere, the budget spent).
    let declined = Atomic<Int>(0)
    /// Callers inside `write` now.
    var writesInFlight: Int { state.withLock { $0.inFlight } }
    /// Nothing writing, queued or draining.
    var isIdle: Bool { state.withLock { !$0.draining && $0.inFlight == 0 } }

    func write<T: Sendable>(_ body: @escaping @Sendable (Database) throws -> T) async throws -> T {
        state.withLock { state in
            state.inFlight += 1
            if state.inFlight > 1 { state.lastConcurrent = .now }
        }
        defer { state.withLock { $0.inFlight -= 1 } }
        if case .done(let value) = try inline(body) { return value }
        return try await queued(body)
    }

    /// Runs `body` at once on the calling thread while writes come one at a time, without the
    /// two thread hand-offs of a queued write (waking the writer queue, then the caller's task:
    /// most of what one refresh rotation cost, issue 21). Only then: under concurrent writes,
    /// batching on the writer queue does more (group commit, and commits off the cooperative
    /// threads the HTTP handlers run on). Inline whenever the writer was idle measured
    /// 2,574–3,010 rotations/s over HTTP against 2,813–3,354 queued (`Benchmarks/http-refresh.sh`,
    /// alternating runs); with this rule, 6 of 33,657 writes under that load ran inline.
    /// It must stay cheap there, since the caller's thread is one of Swift's few cooperative
    /// ones, so it is declined, and queued as before, when:
    /// - another write is in flight or was within `quietBeforeInline`, a batch is running
    ///   (inline writes never overtake queued ones), or the writer connection is in use
    ///   `outside` the coalescer;
    /// - the write lock is held by another process: `BEGIN IMMEDIATE` is tried once, not waited
    ///   for (the queue waits instead, off the cooperative pool);
    /// - `body`'s SQL runs past the step budget (a purge, a bulk insert): it is interrupted and
    ///   rolled back, and runs again from the queue. So `body` may run twice, as a PostgreSQL
    ///   write may: it must only act through the transaction.
    /// `body`'s own error, or the commit's, is the caller's answer, as for a batch of one.
    private func inline<T>(_ body: (Database) throws -> T) throws -> InlineOutcome<T> {
        let claimed = state.withLock { state in
            if state.draining || state.inFlight > 1 || state.outside > 0 { return false }
            if let last = state.lastConcurrent, ContinuousClock.now - last < Self.quietBeforeInline { return false }
            state.draining = true                   // pending is empty whenever nothing drains
            return true
        }
        guard claimed else { return .declined }
        defer { handOver() }
        let outcome: InlineOutcome<T>
        do {
            outcome = try pool.writeWithoutTransaction { [lockWait] db in
                try lockWait.withDeadline(.now) { try Self.transaction(body, on: db) }
            }
        } catch {
            countInline()                           // ran, and answers with its error
            throw error
        }
        if case .declined = outcome { declined.add(1, ordering: .relaxed) } else { countInline() }
        return outcome
    }

    /// Runs `body`, which uses the writer connection outside the coalescer (`writeSync`, a
    /// pragma, closing): meanwhile no write runs inline, which would wait for GRDB's writer
    /// queue (a whole lock wait, a seeding batch) on a cooperative thread.
    func outside<T>(_ body: () throws -> T) rethrows -> T {
        state.withLock { $0.outside += 1 }
        defer { state.withLock { $0.outside -= 1 } }
        return try body()
    }

    /// How long writes must have come one at a time before one runs inline again: a server under
    /// load has concurrent writes every few milliseconds, and keeps batching on the queue.
    static let quietBeforeInline: Duration = .milliseconds(100)

    private func countInline() {
        state.withLock { $0.statistics.transactions += 1; $0.statistics.requests += 1; $0.statistics.inline += 1 }
    }

    /// `body` in a transaction of its own under a step budget, the lock tried once (see `inline`).
    private static func transaction<T>(_ body: (Database) throws -> T, on db: Database) throws -> InlineOutcome<T> {
        do {
            try GRDBTransaction.run("BEGIN IMMEDIATE", on: db)
        } catch let error as DatabaseError where error.resultCode == .SQLITE_BUSY || error.resultCode == .SQLITE_LOCKED {
            return .declined
        }
        // On the writer connection only while this write runs: queued batches are not capped.
        let budget = StepBudget()
        budget.install(on: db)
        budget.arm()
        do {
            let value = try body(db)
            StepBudget.uninstall(from: db)
            // A body that swallowed an interruption (`try?`) wrote only part of its work.
            if budget.spent { throw DatabaseError(resultCode: .SQLITE_INTERRUPT, message: "step budget spent") }
            try GRDBTransaction.run("COMMIT", on: db)
            return .done(value)
        } catch {
            StepBudget.uninstall(from: db)
            // An interrupted statement or a failed commit may have ended the transaction.
            if db.isInsideTransaction { try? GRDBTransaction.run("ROLLBACK", on: db) }
            if budget.spent { return .declined }
            throw error
        }
    }

    /// After an inline write: whatever queued meanwhile, and a checkpoint the commit made due,
    /// go to the writer queue.
    private func handOver() {
        let checkpointDue = checkpoints.isDue
        let drainNeeded = state.withLock { state in
            if state.pending.isEmpty && !checkpointDue { state.draining = false }
            return state.draining
        }
        if drainNeeded { queue.async { [self] in drain() } }
    }

    private func queued<T: Sendable>(_ body: @escaping @Sendable (Database) throws -> T) async throws -> T {
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
            checkpoints.runIfDue(on: pool)
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
    /// Requests that ran on the caller's thread (each its own transaction; counted in both above).
    public var inline = 0
}
