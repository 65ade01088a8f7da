import Foundation

/// Whether a worker still holds a job, and whether someone asked it to stop.
public enum LeaseStatus: Sendable, Equatable {
    case held(cancelRequested: Bool)
    /// The lease expired and the job went back to the queue (or to another worker).
    case lost
}

/// The document-job queue in the shared database.
///
/// Workers claim the next ready job and set its lease in one write transaction (on PostgreSQL
/// the job's row is read `FOR UPDATE SKIP LOCKED`, so two workers, in any processes, never get
/// the same job and never wait for each other) and hold a lease that they renew by heartbeat;
/// every later change by a worker is conditional on its still holding the lease. A job whose
/// lease expired — its worker was killed — is retried after a backoff or failed after its last
/// attempt. Every transition commits with its audit row.
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
        return try await database.write { tx in
            var request = request
            request.arguments = try DocumentKinds.validated(kind: request.kind, arguments: request.arguments, in: tx)
            return try Self.insert(request, by: actor, context: context, in: tx, at: now)
        }
    }

    /// Enqueues `request` (arguments already validated) inside the caller's transaction, so that
    /// the job commits with whatever asked for it (a mail with its magic link).
    static func insert(_ request: JobRequest, by actor: Actor, context: ClientContext = .none, in tx: any SQLTransaction,
                       at now: Date) throws -> Enqueued {
        let arguments = CanonicalJSON.object(request.arguments)
        if let key = request.uniqueKey,
           let existing = try tx.fetchOne(Job.self, "SELECT * FROM jobs WHERE unique_key = ? AND state IN ('queued', 'running')",
                                          [key]) {
            return Enqueued(job: existing, deduplicated: true)
        }
        guard let job = try tx.fetchOne(Job.self, """
            INSERT INTO jobs (kind, arguments, priority, state, unique_key, run_at, max_attempts, requested_by, created_at)
            VALUES (?, ?, ?, 'queued', ?, ?, ?, ?, ?)
            ON CONFLICT (unique_key) WHERE unique_key IS NOT NULL AND state IN ('queued', 'running') DO NOTHING
            RETURNING *
            """, [request.kind, arguments, request.priority, request.uniqueKey,
                  (request.runAt ?? now).unixSeconds, request.maxAttempts, actor.label, now.unixSeconds]) else {
            // Only on PostgreSQL: an enqueue of the same key committed after the look-up above; this
            // INSERT waited for it and inserted nothing (jobs_unique_active), and its job is returned.
            let existing = try tx.fetchOne(Job.self, "SELECT * FROM jobs WHERE unique_key = ? ORDER BY id DESC LIMIT 1",
                                           [request.uniqueKey])!
            return Enqueued(job: existing, deduplicated: true)
        }
        var details = request.arguments
        details["kind"] = request.kind
        if let key = request.uniqueKey { details["unique_key"] = key }
        try audit("job.enqueued", job, actor: actor, context: context, details: details, in: tx, at: now)
        return Enqueued(job: job, deduplicated: false)
    }

    // MARK: - Workers

    /// Takes the next ready job for `worker`, after returning expired leases to the queue.
    /// `running`: the jobs the calling process is running at this moment (its other slots).
    /// Their leases are never reaped here, however late their heartbeat: the process knows they
    /// are alive, and only another process can tell that one died. (Under load a slot's
    /// heartbeat can run late while the job runs; reaping it would start the job a second time
    /// beside itself.)
    public func claim(worker: String, lease: TimeInterval, running: Set<Int64> = []) async throws -> Job? {
        let now = clock.now()
        return try await database.write { tx in
            try Self.reapExpiredLeases(in: tx, at: now, sparing: running)
            // One statement: the next ready job in the jobs_ready index's order (priority DESC,
            // run_at, id) and its lease. On PostgreSQL the subquery locks the row and skips rows
            // another worker has locked: a job being claimed is passed over, never claimed twice.
            guard let job = try tx.fetchOne(Job.self, """
                UPDATE jobs SET state = 'running', lease_owner = ?1, lease_expires_at = ?2, heartbeat_at = ?3,
                                attempts = attempts + 1, started_at = coalesce(started_at, ?3), cancel_requested = 0
                WHERE id = (SELECT id FROM jobs WHERE state = 'queued' AND run_at <= ?3
                            ORDER BY priority DESC, run_at, id LIMIT 1\(tx.dialect.forUpdateSkipLocked))
                RETURNING *
                """, [worker, now.unixSeconds + lease, now.unixSeconds]) else { return nil }
            try Self.audit("job.started", job, actor: .system, details: ["worker": worker, "attempt": String(job.attempts)], in: tx, at: now)
            return job
        }
    }

    /// Renews the lease and records progress (0–100, a short note) when given.
    public func heartbeat(id: Int64, worker: String, lease: TimeInterval, progress: Int? = nil, note: String? = nil) async throws -> LeaseStatus {
        let now = clock.now()
        return try await database.write { tx in
            // Conditional on the lease: no row comes back when the worker no longer holds the job.
            let cancel = try tx.fetchScalar(Bool.self, """
                UPDATE jobs SET lease_expires_at = ?, heartbeat_at = ?, progress = coalesce(?, progress),
                                progress_note = coalesce(?, progress_note)
                WHERE id = ? AND state = 'running' AND lease_owner = ?
                RETURNING cancel_requested
                """, [now.unixSeconds + lease, now.unixSeconds, progress.map { min(100, max(0, $0)) },
                      note.map { String($0.prefix(200)) }, id, worker])
            return cancel.map { LeaseStatus.held(cancelRequested: $0) } ?? .lost
        }
    }

    /// The job finished: its outputs are recorded and it is `succeeded`. Ignored (false) when
    /// the worker no longer holds it.
    @discardableResult
    public func complete(id: Int64, worker: String, outputs: [JobOutput], note: String? = nil) async throws -> Bool {
        let now = clock.now()
        return try await database.write { tx in
            guard let job = try tx.fetchOne(Job.self, """
                UPDATE jobs SET state = 'succeeded', progress = 100, progress_note = ?, finished_at = ?, lease_owner = NULL,
                                lease_expires_at = NULL
                WHERE id = ? AND state = 'running' AND lease_owner = ? RETURNING *
                """, [note ?? "done: \(outputs.count) document\(outputs.count == 1 ? "" : "s")", now.unixSeconds, id, worker])
            else { return false }
            for output in outputs {
                try tx.execute("""
                    INSERT INTO job_outputs (job_id, name, path, media_type, size, sha256, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)
                    """, [id, output.name, output.path, output.mediaType, output.size,
                          Fingerprint.bytes(hex: output.sha256) ?? Data(), now.unixSeconds])
            }
            try Self.audit("job.succeeded", job, actor: .system,
                           details: ["worker": worker, "outputs": outputs.map(\.name).joined(separator: ",")], in: tx, at: now)
            return true
        }
    }

    /// The attempt failed: retried after `JobBackoff` or, after the last attempt, `failed`.
    /// Returns the state the job is in now (nil when the worker no longer held it).
    /// `permanent` failures (retrying cannot help) skip the remaining attempts.
    @discardableResult
    public func fail(id: Int64, worker: String, error: String, permanent: Bool = false) async throws -> Job.State? {
        let now = clock.now()
        return try await database.write { tx in
            // Locked: the lease cannot be taken over between this read and the update.
            guard var job = try tx.fetchOne(Job.self, """
                SELECT * FROM jobs WHERE id = ? AND state = 'running' AND lease_owner = ?\(tx.dialect.forUpdate)
                """, [id, worker]) else { return nil }
            if permanent { job.attempts = max(job.attempts, job.maxAttempts) }
            return try Self.retryOrFail(job, error: String(error.prefix(500)), in: tx, at: now)
        }
    }

    /// The worker stopped at a checkpoint because a cancel was requested.
    public func acknowledgeCancel(id: Int64, worker: String) async throws {
        let now = clock.now()
        try await database.write { tx in
            guard let job = try tx.fetchOne(Job.self, """
                UPDATE jobs SET state = 'cancelled', finished_at = ?, lease_owner = NULL, lease_expires_at = NULL
                WHERE id = ? AND state = 'running' AND lease_owner = ? RETURNING *
                """, [now.unixSeconds, id, worker]) else { return }
            try Self.audit("job.cancelled", job, actor: .system, details: ["worker": worker], in: tx, at: now)
            try MailDelivery.abandon(job: job, reason: "cancelled", in: tx, at: now)
        }
    }

    /// The worker is shutting down: the job goes back to the queue at once and this attempt
    /// does not count.
    public func release(id: Int64, worker: String) async throws {
        let now = clock.now()
        try await database.write { tx in
            guard let job = try tx.fetchOne(Job.self, """
                UPDATE jobs SET state = 'queued', run_at = ?, attempts = \(tx.dialect.greatest("0", "attempts - 1")), lease_owner = NULL,
                                lease_expires_at = NULL
                WHERE id = ? AND state = 'running' AND lease_owner = ? RETURNING *
                """, [now.unixSeconds, id, worker]) else { return }
            try Self.audit("job.released", job, actor: .system, details: ["worker": worker], in: tx, at: now)
        }
    }

    private static func reapExpiredLeases(in tx: any SQLTransaction, at now: Date, sparing running: Set<Int64>) throws {
        // Locked and skipped on PostgreSQL: a lease another worker is reaping, or its owner is
        // renewing at this moment, is left to them.
        let expired = try tx.fetchAll(Job.self, """
            SELECT * FROM jobs WHERE state = 'running' AND lease_expires_at < ?\(tx.dialect.forUpdateSkipLocked)
            """, [now.unixSeconds])
        for job in expired where !running.contains(job.id) {
            try retryOrFail(job, error: "lease expired: worker \(job.leaseOwner ?? "?") stopped heartbeating", leaseExpired: true,
                            in: tx, at: now)
        }
    }

    /// Puts `job` back in the queue after `JobBackoff`, or fails it after its last attempt, while
    /// `job.leaseOwner` still holds it; nil, and nothing written, when it no longer does.
    /// `leaseExpired`: the lease ran out, which is audited before the outcome.
    @discardableResult
    private static func retryOrFail(_ job: Job, error: String, leaseExpired: Bool = false, in tx: any SQLTransaction,
                                    at now: Date) throws -> Job.State? {
        if job.attempts >= job.maxAttempts {
            // Conditional on the lease owner (the count checked): a job taken over meanwhile is left alone.
            guard try tx.execute("""
                UPDATE jobs SET state = 'failed', last_error = ?, finished_at = ?, lease_owner = NULL, lease_expires_at = NULL
                WHERE id = ? AND state = 'running' AND lease_owner = ?
                """, [error, now.unixSeconds, job.id, job.leaseOwner]) == 1 else { return nil }
            if leaseExpired { try auditLeaseExpired(job, in: tx, at: now) }
            try audit("job.failed", job, actor: .system, outcome: .failure, reason: error,
                      details: ["attempts": String(job.attempts)], in: tx, at: now)
            try MailDelivery.abandon(job: job, reason: error, in: tx, at: now)
            return .failed
        }
        let delay = JobBackoff.delay(afterAttempt: job.attempts)
        // Conditional on the lease owner, as above.
        guard try tx.execute("""
            UPDATE jobs SET state = 'queued', run_at = ?, last_error = ?, lease_owner = NULL, lease_expires_at = NULL
            WHERE id = ? AND state = 'running' AND lease_owner = ?
            """, [now.unixSeconds + delay, error, job.id, job.leaseOwner]) == 1 else { return nil }
        if leaseExpired { try auditLeaseExpired(job, in: tx, at: now) }
        try audit("job.retry_scheduled", job, actor: .system, outcome: .failure, reason: error,
                  details: ["attempt": String(job.attempts), "delay_seconds": String(Int(delay.rounded()))], in: tx, at: now)
        return .queued
    }

    private static func auditLeaseExpired(_ job: Job, in tx: any SQLTransaction, at now: Date) throws {
        try audit("job.lease_expired", job, actor: .system, outcome: .failure,
                  details: ["worker": job.leaseOwner ?? "", "attempt": String(job.attempts)], in: tx, at: now)
    }

    // MARK: - Operators

    /// A queued job is cancelled at once; a running one is asked to stop at its next checkpoint.
    public func cancel(id: Int64, by actor: Actor, context: ClientContext = .none) async throws -> Job {
        let now = clock.now()
        return try await database.write { tx in
            // Locked: the job's state cannot change (a claim, a completion) between this read and the update.
            guard let job = try tx.fetchOne(Job.self, "SELECT * FROM jobs WHERE id = ?\(tx.dialect.forUpdate)", [id]) else {
                throw JobError.notFound(id)
            }
            switch job.state {
            case .queued:
                let updated = try tx.fetchOne(Job.self, """
                    UPDATE jobs SET state = 'cancelled', finished_at = ? WHERE id = ? RETURNING *
                    """, [now.unixSeconds, id])!
                try Self.audit("job.cancelled", job, actor: actor, context: context, in: tx, at: now)
                try MailDelivery.abandon(job: job, reason: "cancelled by \(actor.label)", in: tx, at: now)
                return updated
            case .running:
                let updated = try tx.fetchOne(Job.self, "UPDATE jobs SET cancel_requested = 1 WHERE id = ? RETURNING *", [id])!
                try Self.audit("job.cancel_requested", job, actor: actor, context: context, in: tx, at: now)
                return updated
            case .succeeded, .failed, .cancelled:
                throw JobError.wrongState(id: id, state: job.state, wanted: "only queued or running jobs can be cancelled")
            }
        }
    }

    /// Puts a failed or cancelled job back in the queue with its attempts reset.
    public func retry(id: Int64, by actor: Actor, context: ClientContext = .none) async throws -> Job {
        let now = clock.now()
        return try await database.write { tx in
            // Locked: another retry or a cancel of this job waits for this one's commit.
            guard let job = try tx.fetchOne(Job.self, "SELECT * FROM jobs WHERE id = ?\(tx.dialect.forUpdate)", [id]) else {
                throw JobError.notFound(id)
            }
            guard job.state == .failed || job.state == .cancelled else {
                throw JobError.wrongState(id: id, state: job.state, wanted: "only failed or cancelled jobs can be retried")
            }
            if let key = job.uniqueKey,
               let other = try tx.fetchScalar(Int64.self, "SELECT id FROM jobs WHERE unique_key = ? AND state IN ('queued', 'running')",
                                              [key]) {
                throw JobError.wrongState(id: id, state: job.state, wanted: "job \(other) with the same unique key is already waiting or running")
            }
            // On PostgreSQL an enqueue of the same key can commit after the check above; the
            // UPDATE then meets jobs_unique_active and the engine runs this again (23505 is
            // retried), when the check finds that job.
            let updated = try tx.fetchOne(Job.self, """
                UPDATE jobs SET state = 'queued', run_at = ?, attempts = 0, cancel_requested = 0, progress = 0,
                                progress_note = NULL, finished_at = NULL
                WHERE id = ? RETURNING *
                """, [now.unixSeconds, id])!
            try Self.audit("job.retried", job, actor: actor, context: context, details: ["previous_state": job.state.rawValue],
                           in: tx, at: now)
            return updated
        }
    }

    // MARK: - Reading

    public func find(id: Int64) async throws -> (job: Job, outputs: [JobOutput])? {
        try await database.read { tx in
            guard let job = try tx.fetchOne(Job.self, "SELECT * FROM jobs WHERE id = ?", [id]) else { return nil }
            let outputs = try tx.fetchAll(JobOutput.self, "SELECT * FROM job_outputs WHERE job_id = ? ORDER BY id", [id])
            return (job, outputs)
        }
    }

    /// Newest first.
    public func list(state: Job.State? = nil, requestedBy: String? = nil, text: TextFilter? = nil, limit: Int = 100,
                     page: Page = .first) async throws -> [Job] {
        var query = ListQuery(dialect: database.dialect)
        if let state { query.require("j.state = ?", state.rawValue) }
        if let requestedBy { query.require("j.requested_by = ?", requestedBy) }
        query.match(text, in: "j.kind || ' ' || j.state || ' ' || j.arguments || ' ' || j.requested_by || ' ' || coalesce(j.lease_owner, '') || ' ' || coalesce(j.last_error, '')")
        return try await query.fetch(Job.self, select: "SELECT j.* FROM jobs j", keyColumns: ["j.id"], page: page, limit: limit,
                                     from: database)
    }

    /// The key that orders job listings (newest first) and that `Page` cursors hold.
    public static func pageKey(_ job: Job) -> PageKey { [.int(job.id)] }

    public func count(state: Job.State) async throws -> Int {
        try await database.read { tx in try tx.fetchScalar(Int.self, "SELECT count(*) FROM jobs WHERE state = ?", [state.rawValue]) ?? 0 }
    }

    private static func audit(_ action: String, _ job: Job, actor: Actor, outcome: AuditEntry.Outcome = .success, reason: String? = nil,
                              context: ClientContext = .none, details: [String: String] = [:], in tx: any SQLTransaction, at now: Date) throws {
        var details = details
        details["kind"] = job.kind
        try AuditLog.append(AuditEntry(actor: actor, action: action, targetType: "job", targetId: String(job.id), outcome: outcome,
                                       reason: reason, context: context, details: details), in: tx, at: now)
    }
}
