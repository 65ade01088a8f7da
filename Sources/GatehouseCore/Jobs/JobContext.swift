import Foundation
import Synchronization

/// Why a running job stopped before its end.
public enum JobInterruption: Error, Equatable {
    /// Someone cancelled it: the job ends `cancelled`.
    case cancelled
    /// The worker is shutting down: the job goes back to the queue.
    case shuttingDown
    /// The lease expired (the worker stalled) and the job may be running elsewhere: stop
    /// without touching its state.
    case leaseLost
}

/// What a running job sees: its row, where to write, and checkpoints at which it reports
/// progress and learns whether to stop. Cancellation is cooperative: a job stops at its next
/// checkpoint.
public final class JobContext: Sendable {
    public let job: Job
    /// The job's own folder under the worker's data directory.
    public let directory: URL
    let queue: JobQueue
    let worker: String
    let lease: TimeInterval
    let stopping: @Sendable () -> Bool
    /// Set by the heartbeat: cancel requested or lease lost.
    let interruption = Mutex<JobInterruption?>(nil)
    private let lastReport = Mutex<ContinuousClock.Instant?>(nil)

    init(job: Job, directory: URL, queue: JobQueue, worker: String, lease: TimeInterval, stopping: @escaping @Sendable () -> Bool) {
        self.job = job
        self.directory = directory
        self.queue = queue
        self.worker = worker
        self.lease = lease
        self.stopping = stopping
    }

    /// Throws when the job must stop; otherwise returns at once.
    public func checkpoint() throws {
        if let reason = interruption.withLock({ $0 }) { throw reason }
        if stopping() { throw JobInterruption.shuttingDown }
    }

    /// Records progress (0–100) and a short note, renewing the lease; a checkpoint too. Writes at
    /// most five times a second however often it is called, so a tight loop may call it freely.
    public func progress(_ percent: Int, _ note: String? = nil) async throws {
        try checkpoint()
        let now = ContinuousClock.now
        let due = lastReport.withLock { last -> Bool in
            if let last, now - last < .milliseconds(200), percent < 100 { return false }
            last = now
            return true
        }
        guard due else { return }
        record(try await queue.heartbeat(id: job.id, worker: worker, lease: lease, progress: percent, note: note))
        try checkpoint()
    }

    /// Renews the lease without progress (the worker's heartbeat task calls this).
    func heartbeat() async throws {
        record(try await queue.heartbeat(id: job.id, worker: worker, lease: lease))
    }

    private func record(_ status: LeaseStatus) {
        switch status {
        case .held(cancelRequested: true): interruption.withLock { $0 = $0 ?? .cancelled }
        case .held(cancelRequested: false): break
        case .lost: interruption.withLock { $0 = .leaseLost }
        }
    }
}
