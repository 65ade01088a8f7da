import Foundation

/// How long what has ended is kept, per kind. 0 keeps a kind for good.
public struct RetentionPolicy: Sendable, Equatable {
    /// Ended sessions (logged out, revoked, expired) with their secrets and refresh tokens.
    public var endedSessionDays = 90
    /// Sign-in mail (the outbox) and magic links.
    public var outboxDays = 30
    /// Finished jobs with their documents (the files too).
    public var finishedJobDays = 30
    /// Audit rows older than this go to archive files in `archiveDirectory` (0: none archived).
    public var auditArchiveDays = 0
    public var archiveDirectory: String?
    /// A checkpoint key and folder: the archive's cut is signed.
    public var checkpointKey: String?
    public var checkpointDirectory: String?

    public static let dayRange = 0...36_500

    public init() {}

    /// As a `retention` job's arguments.
    var arguments: [String: String] {
        var arguments = ["ended_sessions_days": String(endedSessionDays), "outbox_days": String(outboxDays),
                         "finished_jobs_days": String(finishedJobDays)]
        if auditArchiveDays > 0, let archiveDirectory {
            arguments["audit_archive_days"] = String(auditArchiveDays)
            arguments["archive_dir"] = archiveDirectory
            if let checkpointKey, let checkpointDirectory {
                arguments["checkpoint_key"] = checkpointKey
                arguments["checkpoint_dir"] = checkpointDirectory
            }
        }
        return arguments
    }

    static let argumentNames = ["ended_sessions_days", "outbox_days", "finished_jobs_days", "audit_archive_days", "archive_dir",
                                "checkpoint_key", "checkpoint_dir"]

    init(arguments: [String: String]) throws {
        func days(_ key: String, _ fallback: Int) throws -> Int {
            guard let text = arguments[key] else { return fallback }
            guard let value = Int(text), Self.dayRange.contains(value) else {
                throw JobError.invalidArguments("\(key) must be a whole number of days, 0–\(Self.dayRange.upperBound) (0 keeps them)")
            }
            return value
        }
        let defaults = RetentionPolicy()
        endedSessionDays = try days("ended_sessions_days", defaults.endedSessionDays)
        outboxDays = try days("outbox_days", defaults.outboxDays)
        finishedJobDays = try days("finished_jobs_days", defaults.finishedJobDays)
        auditArchiveDays = try days("audit_archive_days", 0)
        archiveDirectory = arguments["archive_dir"]
        checkpointKey = arguments["checkpoint_key"]
        checkpointDirectory = arguments["checkpoint_dir"]
        if auditArchiveDays > 0, archiveDirectory == nil {
            throw JobError.invalidArguments("audit_archive_days needs archive_dir (where the archive files go)")
        }
    }
}

/// The `retention` job: marks sessions past their deadlines as expired (today they read as
/// active until someone looks), then removes what ended longer ago than the policy keeps it.
///
/// Work goes in batches of `batchSize` rows, each its own short transaction, so that a first
/// run over millions of rows never holds the write lock for long, and reports progress. Each
/// step is audited once with its count (`retention.applied`), not once a row: forensics reads
/// the newest to say when evidence may be gone.
enum Retention {
    static let kind = "retention"
    static let batchSize = 1_000

    static func run(_ context: JobContext, database: GatehouseDatabase) async throws -> String {
        let policy = try RetentionPolicy(arguments: context.job.arguments)
        let now = context.queue.clock.now()
        var counts: [(String, Int)] = []
        var steps: [(name: String, days: Int, run: (Date) async throws -> Int)] = [
            ("sessions_expired", -1, { _ in try await batches(database, context) { tx in try markExpired(in: tx, at: now) } }),
            ("ended_sessions_removed", policy.endedSessionDays, { cutoff in
                try await batches(database, context) { tx in try tx.execute("""
                    DELETE FROM sessions WHERE id IN (SELECT id FROM sessions WHERE state <> 'active' AND ended_at < ? LIMIT \(batchSize))
                    """, [cutoff.unixSeconds]) }
            }),
            ("outbox_removed", policy.outboxDays, { cutoff in
                try await batches(database, context) { tx in try tx.execute("""
                    DELETE FROM outbox WHERE id IN (SELECT id FROM outbox WHERE created_at < ? AND delivery NOT IN ('queued', 'deferred') LIMIT \(batchSize))
                    """, [cutoff.unixSeconds]) }
            }),
            ("magic_links_removed", policy.outboxDays, { cutoff in
                try await batches(database, context) { tx in try tx.execute("""
                    DELETE FROM magic_links WHERE id IN (SELECT id FROM magic_links WHERE expires_at < ?
                        AND NOT EXISTS (SELECT 1 FROM outbox o WHERE o.magic_link_id = magic_links.id) LIMIT \(batchSize))
                    """, [cutoff.unixSeconds]) }
            }),
            ("finished_jobs_removed", policy.finishedJobDays, { cutoff in
                var removed = 0
                while true {
                    try context.checkpoint()
                    let (count, files) = try await database.write { tx in try removeJobs(finishedBefore: cutoff, except: context.job.id, in: tx) }
                    // The files go after the commit: a transaction that fails leaves rows that still find their documents.
                    for path in files {
                        unlink(path)
                        rmdir(URL(fileURLWithPath: path).deletingLastPathComponent().path)  // the job's folder, once empty
                    }
                    removed += count
                    if count < batchSize { return removed }
                }
            }),
        ]
        if policy.auditArchiveDays > 0, let directory = policy.archiveDirectory {
            let signer = try policy.checkpointKey.flatMap { key in
                try policy.checkpointDirectory.map { (key: try CheckpointKey.load(path: key), file: CheckpointFile(directory: $0)) }
            }
            steps.append(("audit_archived", policy.auditArchiveDays, { cutoff in
                let record = try await AuditLog(database: database, clock: context.queue.clock).archive(before: cutoff, to: directory, checkpoint: signer, by: .system)
                return Int(record?.rowCount ?? 0)
            }))
        }
        for (index, step) in steps.enumerated() {
            try await context.progress(index * 100 / steps.count, step.name.replacingOccurrences(of: "_", with: " "))
            if step.days == 0 { continue }
            let count = try await step.run(now.addingTimeInterval(-Double(max(step.days, 0)) * 86_400))
            counts.append((step.name, count))
            let details = ["count": String(count), "days": step.days < 0 ? "" : String(step.days), "job": String(context.job.id)]
            let name = step.name
            try await database.write { tx in
                try AuditLog.append(AuditEntry(actor: .system, action: "retention.applied", targetType: "retention", targetId: name,
                                               details: details), in: tx, at: now)
            }
        }
        return counts.map { "\($0.0.replacingOccurrences(of: "_", with: " ")) \($0.1)" }.joined(separator: ", ")
    }

    /// Runs `batch` in its own transactions until it changes fewer rows than a batch; the total.
    private static func batches(_ database: GatehouseDatabase, _ context: JobContext,
                                _ batch: @escaping @Sendable (any SQLTransaction) throws -> Int) async throws -> Int {
        var total = 0
        while true {
            try context.checkpoint()
            let changed = try await database.write { tx in try batch(tx) }
            total += changed
            if changed < batchSize { return total }
        }
    }

    /// Active sessions past a deadline become `expired`, ended when the deadline passed.
    private static func markExpired(in tx: any SQLTransaction, at now: Date) throws -> Int {
        try tx.execute("""
            UPDATE sessions SET state = 'expired', ended_by = 'system',
                end_reason = CASE WHEN absolute_expires_at <= last_seen_at + idle_timeout THEN 'expired_absolute' ELSE 'expired_idle' END,
                ended_at = CASE WHEN absolute_expires_at <= last_seen_at + idle_timeout THEN absolute_expires_at ELSE last_seen_at + idle_timeout END
            WHERE id IN (SELECT id FROM sessions WHERE state = 'active' AND (absolute_expires_at <= ?1 OR last_seen_at + idle_timeout <= ?1)
                         LIMIT \(batchSize))
            """, [now.unixSeconds])
    }

    /// Finished jobs older than `cutoff` (a batch): how many, and their documents' files to remove after the commit.
    private static func removeJobs(finishedBefore cutoff: Date, except running: Int64, in tx: any SQLTransaction) throws -> (Int, [String]) {
        let ids = try tx.fetchColumn(Int64.self, """
            SELECT id FROM jobs WHERE state IN ('succeeded', 'failed', 'cancelled') AND finished_at < ? AND id <> ? LIMIT \(batchSize)
            """, [cutoff.unixSeconds, running])
        guard !ids.isEmpty else { return (0, []) }
        let list = ids.map(String.init).joined(separator: ",")
        let files = try tx.fetchColumn(String.self, "SELECT path FROM job_outputs WHERE job_id IN (\(list))")
        return (try tx.execute("DELETE FROM jobs WHERE id IN (\(list))"), files)
    }
}

extension JobQueue {
    /// Queues a `retention` run with `policy` (or returns the one already waiting or running).
    public func enqueueRetention(_ policy: RetentionPolicy, by actor: Actor = .system) async throws -> Enqueued {
        try await enqueue(JobRequest(kind: Retention.kind, arguments: policy.arguments, priority: -10, uniqueKey: Retention.kind, maxAttempts: 3),
                          by: actor)
    }
}
