import Foundation
import GRDB

/// Whether a worker still holds a job, and whether someone asked it to stop.
public enum LeaseStatus: Sendable, Equatable {
    case held(cancelRequested: Bool)
    /// The lease expired and the job went back to the queue (or to another worker).
    case lost
}

/// The document-job queue in the shared SQLite file.
///
/// Workers claim with one `UPDATE … RETURNING` (so two workers, in any processes, never get the
/// same job) and hold a lease that they renew by heartbeat. A job whose lease expired — its
/// worker was killed — is retried after a backoff or failed after its last attempt. Every
/// transition commits with its audit row.
public final class JobQueue: Sendable {
    let database: GatehouseDatabase
    let clock: any GatehouseClock

    init(database: GatehouseDatabase, clock: any GatehouseClock) {
        self.database = database
        self.clock = clock
    }

    /// The job and whether it was an existing one returned for the same unique key.
    public struct Enqueued: Sendable, Equatable {
        public var job: Job
        public var deduplicated: Bool
    }

    public func enqueue(_ request: JobRequest, by actor: Actor, context: ClientContext = .none) async throws -> Enqueued {
        guard (1...100).contains(request.maxAttempts) else { throw JobError.invalidArguments("max attempts must be 1–100") }
        let now = clock.now()
        return try await database.write { db in
            var request = request
            request.arguments = try DocumentKinds.validated(kind: request.kind, arguments: request.arguments, in: db)
            let arguments = CanonicalJSON.object(request.arguments)
            if let key = request.uniqueKey,
               let existing = try Job.fetchOne(db, sql: "SELECT * FROM jobs WHERE unique_key = ? AND state IN ('queued', 'running')",
                                               arguments: [key]) {
                return Enqueued(job: existing, deduplicated: true)
            }
            let job = try Job.fetchOne(db, sql: """
                INSERT INTO jobs (kind, arguments, priority, state, unique_key, run_at, max_attempts, requested_by, created_at)
                VALUES (?, ?, ?, 'queued', ?, ?, ?, ?, ?) RETURNING *
                """, arguments: [request.kind, arguments, request.priority, request.uniqueKey,
                                 (request.runAt ?? now).unixSeconds, request.maxAttempts, actor.label, now.unixSeconds])!
            var details = request.arguments
            details["kind"] = request.kind
            if let key = request.uniqueKey { details["unique_key"] = key }
            try Self.audit("job.enqueued", job, actor: actor, context: context, details: details, in: db, at: now)
            return Enqueued(job: job, deduplicated: false)
        }
    }

    // MARK: - Workers

    /// Takes the next ready job for `worker`, after returning expired leases to the queue.
    public func claim(worker: String, lease: TimeInterval) async throws -> Job? {
        let now = clock.now()
        return try await database.write { db in
            try Self.reapExpiredLeases(in: db, at: now)
            guard let job = try db.fetchRecordCached(Job.self, """
                UPDATE jobs SET state = 'running', lease_owner = ?1, lease_expires_at = ?2, heartbeat_at = ?3,
                                attempts = attempts + 1, started_at = coalesce(started_at, ?3), cancel_requested = 0
                WHERE id = (SELECT id FROM jobs WHERE state = 'queued' AND run_at <= ?3
                            ORDER BY priority DESC, run_at, id LIMIT 1)
                RETURNING *
                """, arguments: [worker, now.unixSeconds + lease, now.unixSeconds]) else { return nil }
            try Self.audit("job.started", job, actor: .system, details: ["worker": worker, "attempt": String(job.attempts)], in: db, at: now)
            return job
        }
    }

    /// Renews the lease and records progress (0–100, a short note) when given.
    public func heartbeat(id: Int64, worker: String, lease: TimeInterval, progress: Int? = nil, note: String? = nil) async throws -> LeaseStatus {
        let now = clock.now()
        return try await database.write { db in
            let cancel = try db.fetchOneCached(Bool.self, """
                UPDATE jobs SET lease_expires_at = ?, heartbeat_at = ?, progress = coalesce(?, progress),
                                progress_note = coalesce(?, progress_note)
                WHERE id = ? AND state = 'running' AND lease_owner = ?
                RETURNING cancel_requested
                """, arguments: [now.unixSeconds + lease, now.unixSeconds, progress.map { min(100, max(0, $0)) },
                                 note.map { String($0.prefix(200)) }, id, worker])
            return cancel.map { LeaseStatus.held(cancelRequested: $0) } ?? .lost
        }
    }

    /// The job finished: its outputs are recorded and it is `succeeded`. Ignored (false) when
    /// the worker no longer holds it.
    @discardableResult
    public func complete(id: Int64, worker: String, outputs: [JobOutput]) async throws -> Bool {
        let now = clock.now()
        return try await database.write { db in
            guard let job = try db.fetchRecordCached(Job.self, """
                UPDATE jobs SET state = 'succeeded', progress = 100, progress_note = ?, finished_at = ?, lease_owner = NULL,
                                lease_expires_at = NULL
                WHERE id = ? AND state = 'running' AND lease_owner = ? RETURNING *
                """, arguments: ["done: \(outputs.count) document\(outputs.count == 1 ? "" : "s")", now.unixSeconds, id, worker])
            else { return false }
            for output in outputs {
                try db.execute(sql: """
                    INSERT INTO job_outputs (job_id, name, path, media_type, size, sha256, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)
                    """, arguments: [id, output.name, output.path, output.mediaType, output.size,
                                     Fingerprint.bytes(hex: output.sha256) ?? Data(), now.unixSeconds])
            }
            try Self.audit("job.succeeded", job, actor: .system,
                           details: ["worker": worker, "outputs": outputs.map(\.name).joined(separator: ",")], in: db, at: now)
            return true
        }
    }

    /// The attempt failed: retried after `JobBackoff` or, after the last attempt, `failed`.
    /// Returns the state the job is in now (nil when the worker no longer held it).
    /// `permanent` failures (retrying cannot help) skip the remaining attempts.
    @discardableResult
    public func fail(id: Int64, worker: String, error: String, permanent: Bool = false) async throws -> Job.State? {
        let now = clock.now()
        return try await database.write { db in
            guard var job = try Job.fetchOne(db, sql: "SELECT * FROM jobs WHERE id = ? AND state = 'running' AND lease_owner = ?",
                                             arguments: [id, worker]) else { return nil }
            if permanent { job.attempts = max(job.attempts, job.maxAttempts) }
            return try Self.retryOrFail(job, error: String(error.prefix(500)), in: db, at: now)
        }
    }

    /// The worker stopped at a checkpoint because a cancel was requested.
    public func acknowledgeCancel(id: Int64, worker: String) async throws {
        let now = clock.now()
        try await database.write { db in
            guard let job = try Job.fetchOne(db, sql: """
                UPDATE jobs SET state = 'cancelled', finished_at = ?, lease_owner = NULL, lease_expires_at = NULL
                WHERE id = ? AND state = 'running' AND lease_owner = ? RETURNING *
                """, arguments: [now.unixSeconds, id, worker]) else { return }
            try Self.audit("job.cancelled", job, actor: .system, details: ["worker": worker], in: db, at: now)
        }
    }

    /// The worker is shutting down: the job goes back to the queue at once and this attempt
    /// does not count.
    public func release(id: Int64, worker: String) async throws {
        let now = clock.now()
        try await database.write { db in
            guard let job = try Job.fetchOne(db, sql: """
                UPDATE jobs SET state = 'queued', run_at = ?, attempts = max(0, attempts - 1), lease_owner = NULL,
                                lease_expires_at = NULL
                WHERE id = ? AND state = 'running' AND lease_owner = ? RETURNING *
                """, arguments: [now.unixSeconds, id, worker]) else { return }
            try Self.audit("job.released", job, actor: .system, details: ["worker": worker], in: db, at: now)
        }
    }

    private static func reapExpiredLeases(in db: Database, at now: Date) throws {
        let expired = try Job.fetchAll(db.cachedStatement(sql: "SELECT * FROM jobs WHERE state = 'running' AND lease_expires_at < ?"),
                                       arguments: [now.unixSeconds])
        for job in expired {
            try audit("job.lease_expired", job, actor: .system, outcome: .failure,
                      details: ["worker": job.leaseOwner ?? "", "attempt": String(job.attempts)], in: db, at: now)
            try retryOrFail(job, error: "lease expired: worker \(job.leaseOwner ?? "?") stopped heartbeating", in: db, at: now)
        }
    }

    @discardableResult
    private static func retryOrFail(_ job: Job, error: String, in db: Database, at now: Date) throws -> Job.State {
        if job.attempts >= job.maxAttempts {
            try db.execute(sql: """
                UPDATE jobs SET state = 'failed', last_error = ?, finished_at = ?, lease_owner = NULL, lease_expires_at = NULL
                WHERE id = ?
                """, arguments: [error, now.unixSeconds, job.id])
            try audit("job.failed", job, actor: .system, outcome: .failure, reason: error,
                      details: ["attempts": String(job.attempts)], in: db, at: now)
            return .failed
        }
        let delay = JobBackoff.delay(afterAttempt: job.attempts)
        try db.execute(sql: """
            UPDATE jobs SET state = 'queued', run_at = ?, last_error = ?, lease_owner = NULL, lease_expires_at = NULL
            WHERE id = ?
            """, arguments: [now.unixSeconds + delay, error, job.id])
        try audit("job.retry_scheduled", job, actor: .system, outcome: .failure, reason: error,
                  details: ["attempt": String(job.attempts), "delay_seconds": String(Int(delay.rounded()))], in: db, at: now)
        return .queued
    }

    // MARK: - Operators

    /// A queued job is cancelled at once; a running one is asked to stop at its next checkpoint.
    public func cancel(id: Int64, by actor: Actor, context: ClientContext = .none) async throws -> Job {
        let now = clock.now()
        return try await database.write { db in
            guard let job = try Job.fetchOne(db, sql: "SELECT * FROM jobs WHERE id = ?", arguments: [id]) else { throw JobError.notFound(id) }
            switch job.state {
            case .queued:
                let updated = try Job.fetchOne(db, sql: """
                    UPDATE jobs SET state = 'cancelled', finished_at = ? WHERE id = ? RETURNING *
                    """, arguments: [now.unixSeconds, id])!
                try Self.audit("job.cancelled", job, actor: actor, context: context, in: db, at: now)
                return updated
            case .running:
                let updated = try Job.fetchOne(db, sql: "UPDATE jobs SET cancel_requested = 1 WHERE id = ? RETURNING *", arguments: [id])!
                try Self.audit("job.cancel_requested", job, actor: actor, context: context, in: db, at: now)
                return updated
            case .succeeded, .failed, .cancelled:
                throw JobError.wrongState(id: id, state: job.state, wanted: "only queued or running jobs can be cancelled")
            }
        }
    }

    /// Puts a failed or cancelled job back in the queue with its attempts reset.
    public func retry(id: Int64, by actor: Actor, context: ClientContext = .none) async throws -> Job {
        let now = clock.now()
        return try await database.write { db in
            guard let job = try Job.fetchOne(db, sql: "SELECT * FROM jobs WHERE id = ?", arguments: [id]) else { throw JobError.notFound(id) }
            guard job.state == .failed || job.state == .cancelled else {
                throw JobError.wrongState(id: id, state: job.state, wanted: "only failed or cancelled jobs can be retried")
            }
            if let key = job.uniqueKey,
               let other = try Int64.fetchOne(db, sql: "SELECT id FROM jobs WHERE unique_key = ? AND state IN ('queued', 'running')",
                                              arguments: [key]) {
                throw JobError.wrongState(id: id, state: job.state, wanted: "job \(other) with the same unique key is already waiting or running")
            }
            let updated = try Job.fetchOne(db, sql: """
                UPDATE jobs SET state = 'queued', run_at = ?, attempts = 0, cancel_requested = 0, progress = 0,
                                progress_note = NULL, finished_at = NULL
                WHERE id = ? RETURNING *
                """, arguments: [now.unixSeconds, id])!
            try Self.audit("job.retried", job, actor: actor, context: context, details: ["previous_state": job.state.rawValue],
                           in: db, at: now)
            return updated
        }
    }

    // MARK: - Reading

    public func find(id: Int64) async throws -> (job: Job, outputs: [JobOutput])? {
        try await database.read { db in
            guard let job = try Job.fetchOne(db, sql: "SELECT * FROM jobs WHERE id = ?", arguments: [id]) else { return nil }
            let outputs = try Row.fetchAll(db, sql: "SELECT * FROM job_outputs WHERE job_id = ? ORDER BY id", arguments: [id])
                .map(JobOutput.init(row:))
            return (job, outputs)
        }
    }

    /// Newest first.
    public func list(state: Job.State? = nil, requestedBy: String? = nil, text: TextFilter? = nil, limit: Int = 100,
                     page: Page = .first) async throws -> [Job] {
        var query = ListQuery()
        if let state { query.require("j.state = ?", state.rawValue) }
        if let requestedBy { query.require("j.requested_by = ?", requestedBy) }
        query.match(text, in: "j.kind || ' ' || j.state || ' ' || j.arguments || ' ' || j.requested_by || ' ' || coalesce(j.lease_owner, '') || ' ' || coalesce(j.last_error, '')")
        return try await query.fetch(Job.self, select: "SELECT j.* FROM jobs j", keyColumns: ["j.id"], page: page, limit: limit,
                                     from: database)
    }

    /// The key that orders job listings (newest first) and that `Page` cursors hold.
    public static func pageKey(_ job: Job) -> PageKey { [.int(job.id)] }

    public func count(state: Job.State) async throws -> Int {
        try await database.read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM jobs WHERE state = ?", arguments: [state.rawValue]) ?? 0 }
    }

    private static func audit(_ action: String, _ job: Job, actor: Actor, outcome: AuditEntry.Outcome = .success, reason: String? = nil,
                              context: ClientContext = .none, details: [String: String] = [:], in db: Database, at now: Date) throws {
        var details = details
        details["kind"] = job.kind
        try AuditLog.append(AuditEntry(actor: actor, action: action, targetType: "job", targetId: String(job.id), outcome: outcome,
                                       reason: reason, context: context, details: details), in: db, at: now)
    }
}
