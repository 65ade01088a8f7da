import Foundation

/// The append-only, hash-chained audit log.
///
/// Services append inside their own write transaction (`append(_:in:at:)`), so a state change
/// and its audit row commit together or not at all. Triggers refuse UPDATE and DELETE; the hash
/// chain catches whoever drops the triggers first.
public final class AuditLog: Sendable {
    let database: GatehouseDatabase
    let clock: any GatehouseClock

    init(database: GatehouseDatabase, clock: any GatehouseClock) {
        self.database = database
        self.clock = clock
    }

    static let genesisHash = Data(repeating: 0, count: 32)

    /// The PostgreSQL advisory lock that serialises appends to the chain ("gatehouse audit
    /// chain" as a bigint): held to the end of the transaction, so there is one order of rows
    /// and no fork, while everything else in those transactions runs side by side.
    static let chainLock: Int64 = 0x6761_7465_6175_6474

    /// Appends one row, chained to the last one, as part of `transaction` (it commits with the
    /// change it records, or neither does).
    ///
    /// On PostgreSQL the row is written just before the commit (`beforeCommit`): the chain's
    /// lock is then the last lock the transaction takes and is held only for the append and the
    /// commit, so transactions that lock rows and audit never wait on each other in a cycle.
    static func append(_ entry: AuditEntry, in transaction: some SQLTransaction, at now: Date) throws {
        try transaction.beforeCommit { transaction in try appendNow(entry, in: transaction, at: now) }
    }

    /// Appends one row now. Written once for both engines (docs/engines.md). SQLite: the write
    /// transaction holds the database, and AUTOINCREMENT's counter gives the next seq.
    /// PostgreSQL: the chain's advisory lock first, then the head row (rows are never deleted:
    /// head + 1 is the next seq); the lock is held to the commit, so there is one order and no fork.
    @discardableResult
    static func appendNow(_ entry: AuditEntry, in transaction: some SQLTransaction, at now: Date) throws -> Int64 {
        let last: SQLRow?
        if transaction.dialect == .postgres {
            try transaction.execute(transaction.dialect.advisoryLock(chainLock))
            last = try transaction.fetchOne("SELECT hash, seq FROM audit_events ORDER BY seq DESC LIMIT 1")
        } else {
            // AUTOINCREMENT never reuses a number, so the next seq is known before the insert and
            // can be part of the hashed content.
            last = try transaction.fetchOne(Self.sqliteHead)
        }
        let previous: Data = if case .blob(let data) = last?[0] ?? .null { data } else { genesisHash }
        let seq = (last?[1].int ?? 0) + 1
        let milliseconds = AuditMinutes.milliseconds(of: now)
        let details = entry.detailsJSON
        let ip = entry.ip
        let canonical = AuditEvent.canonicalEncoding(
            seq: seq, atMilliseconds: milliseconds, actorType: entry.actor.typeName,
            actorId: entry.actor.identifier, action: entry.action, targetType: entry.targetType,
            targetId: entry.targetId, outcome: entry.outcome.rawValue, reason: entry.reason, ip: ip,
            userAgent: entry.context.userAgent, requestId: entry.context.requestId, details: details)
        let hash = AuditEvent.chainHash(previous: previous, canonical: canonical)
        try transaction.execute(Self.insert, [
            seq, Double(milliseconds) / 1000, entry.actor.typeName, entry.actor.identifier,
            entry.action, entry.targetType, entry.targetId, entry.outcome.rawValue,
            entry.reason, ip, entry.context.userAgent, entry.context.requestId,
            details, previous, hash,
        ])
        try AuditMinutes.count(action: entry.action, reason: entry.reason, seq: seq, milliseconds: milliseconds, in: transaction)
        return seq
    }

    private static let sqliteHead = """
        SELECT (SELECT hash FROM audit_events ORDER BY seq DESC LIMIT 1) AS hash,
               (SELECT seq FROM sqlite_sequence WHERE name = 'audit_events') AS seq
        """
    private static let insert = """
        INSERT INTO audit_events (seq, at, actor_type, actor_id, action, target_type, target_id,
            outcome, reason, ip, user_agent, request_id, details, prev_hash, hash)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
        """

    /// Appends a row for an event that an attacker can cause at will (a failed lookup, a
    /// blocked request), unless this client or everyone together exceeded the throttle. The
    /// throttle's own bucket counts what was left out, so a flood stays visible without
    /// filling the disk. Returns whether the row was written.
    @discardableResult
    static func appendThrottled(_ entry: AuditEntry, in transaction: some SQLTransaction, at now: Date,
                                policies: [RateLimitPolicy]) throws -> Bool {
        for (index, policy) in policies.enumerated() {
            // The first policy is per client, the others are global.
            let key = index == 0 ? entry.context.clientKey : "*"
            guard try RateLimiter.consume(policy: policy, key: key, in: transaction, at: now).allowed else {
                // Left out of the log, still counted in the rollup: the Pulse pane shows a flood
                // at its real height. In a row of its own (`AuditMinutes`), just before the commit
                // (on PostgreSQL the row lock is then held only for the commit).
                let milliseconds = AuditMinutes.milliseconds(of: now)
                try transaction.beforeCommit { transaction in
                    try AuditMinutes.count(action: entry.action, reason: entry.reason, seq: nil, milliseconds: milliseconds, in: transaction)
                }
                return false
            }
        }
        try append(entry, in: transaction, at: now)
        return true
    }

    /// Appends one row in its own transaction: for callers outside a service's transaction
    /// (and the benchmark of the append path itself).
    @discardableResult
    public func record(_ entry: AuditEntry) async throws -> Int64 {
        let now = clock.now()
        return try await database.write { tx in try Self.appendNow(entry, in: tx, at: now) }
    }

    // MARK: - Reading

    /// The newest `limit` events, oldest first (what `tail` prints).
    public func tail(limit: Int) async throws -> [AuditEvent] {
        try await database.read { tx in
            try tx.fetchAll(AuditEvent.self, "SELECT * FROM (SELECT * FROM audit_events ORDER BY seq DESC LIMIT ?) newest ORDER BY seq", [limit])
        }
    }

    /// Events with `seq` greater than `seq`, oldest first (what `tail --follow` polls for).
    public func events(after seq: Int64, limit: Int = 1000) async throws -> [AuditEvent] {
        try await database.read { tx in
            try tx.fetchAll(AuditEvent.self, "SELECT * FROM audit_events WHERE seq > ? ORDER BY seq LIMIT ?", [seq, limit])
        }
    }

    /// Events about one target (a session handle, a token fingerprint, a user), oldest first.
    public func events(targetType: String, targetId: String, limit: Int = 500) async throws -> [AuditEvent] {
        try await database.read { tx in
            try tx.fetchAll(AuditEvent.self, """
                SELECT * FROM audit_events WHERE target_type = ? AND target_id = ? ORDER BY seq LIMIT ?
                """, [targetType, targetId, limit])
        }
    }

    /// The key that orders audit listings (newest first) and that `Page` cursors hold.
    public static func pageKey(_ event: AuditEvent) -> PageKey { [.int(event.seq)] }

    /// One window of events, newest first, by keyset on seq (no OFFSET: row ten million costs
    /// what row one does). `text` matches action, actor, target, outcome, reason, IP, request id
    /// and details, as `type:id` pairs (`operator:alice`, `session:ses_…`).
    /// `scope` narrows the listing to some actions in some minutes (a Pulse chart's column):
    /// the rollup gives the seq range they span, so the read is a range scan however large the log.
    public func list(text: TextFilter? = nil, scope: AuditScope? = nil, limit: Int = 100, page: Page = .first) async throws -> [AuditEvent] {
        var query = ListQuery(dialect: database.dialect)
        if let scope { scope.constrain(&query) }
        query.match(text, in: """
            a.action || ' ' || a.actor_type || ':' || coalesce(a.actor_id, '') || ' ' || coalesce(a.target_type, '') || ':' ||             coalesce(a.target_id, '') || ' ' || a.outcome || ' ' || coalesce(a.reason, '') || ' ' || coalesce(a.ip, '') || ' ' ||             coalesce(a.request_id, '') || ' ' || coalesce(a.details, '')
            """)
        return try await query.fetch(AuditEvent.self, select: "SELECT a.* FROM audit_events a", keyColumns: ["a.seq"], page: page,
                                     limit: limit, from: database)
    }

    // MARK: - Verification

    /// Verifies the chain onward from `checkpoint` (nil: from the first row), at most `limit`
    /// rows per call, so a console can verify ten million rows in steps and then keep up with
    /// new rows cheaply. A broken checkpoint stays broken.
    public func verify(after checkpoint: AuditCheckpoint?, limit: Int = 100_000) async throws -> AuditCheckpoint {
        if let checkpoint, !checkpoint.isIntact { return checkpoint }
        return try await database.read { tx in
            // A position an archive run has since passed resumes at the archive's cut.
            let boundary = try Self.archivedBoundary(in: tx)
            var walk = try checkpoint.flatMap { saved in saved.seq >= (boundary?.seq ?? 0) ? ChainWalk(after: saved.seq, hash: saved.hash) : nil }
                ?? Self.start(in: tx)
            let count = try Self.walk(&walk, in: tx, limit: limit)
            return AuditCheckpoint(seq: walk.nextSeq - 1, hash: walk.previousHash ?? Self.genesisHash,
                                   firstBrokenSeq: walk.firstBrokenSeq, problem: walk.problem, complete: count < limit)
        }
    }

    /// Rows read per statement while walking: a step's rows never sit in memory together.
    private static let walkBatch = 2_000

    /// Checks rows after `walk`'s position in seq order, in batches by keyset, until a row
    /// breaks the chain or `limit` rows were read; returns how many were read.
    @discardableResult
    static func walk(_ walk: inout ChainWalk, in tx: any SQLTransaction, limit: Int = .max) throws -> Int {
        var count = 0
        // From the beginning, every row counts, even one inserted with a seq of 0 or below: the
        // walk expects seq 1 first and names such a row.
        var after = walk.nextSeq <= 1 ? Int64.min : walk.nextSeq - 1
        while count < limit {
            let batch = min(walkBatch, limit - count)
            let events = try tx.fetchAll(AuditEvent.self, "SELECT * FROM audit_events WHERE seq > ? ORDER BY seq LIMIT ?", [after, batch])
            for event in events {
                count += 1
                guard walk.check(event) else { return count }
                after = event.seq
            }
            if events.count < batch { break }
        }
        return count
    }

    /// The highest seq ever given: SQLite's AUTOINCREMENT counter (which remembers deleted
    /// rows), PostgreSQL's newest row.
    static func highestSeq(in tx: any SQLTransaction) throws -> Int64 {
        switch tx.dialect {
        case .sqlite: try tx.fetchScalar(Int64.self, "SELECT seq FROM sqlite_sequence WHERE name = 'audit_events'") ?? 0
        case .postgres: try tx.fetchScalar(Int64.self, "SELECT max(seq) FROM audit_events") ?? 0
        }
    }

    /// Walks the whole chain and names the first row that does not match.
    public func verify() async throws -> AuditVerification {
        try await database.read { tx in try Self.verify(in: tx) }
    }

    /// Where a walk of the database's rows begins: after the newest archive, else at the genesis.
    static func start(in tx: any SQLTransaction) throws -> ChainWalk {
        try archivedBoundary(in: tx).map { ChainWalk(after: $0.seq, hash: $0.hash) } ?? .beginning
    }

    static func verify(in tx: any SQLTransaction) throws -> AuditVerification {
        var walk = try start(in: tx)
        let archivedThrough = try archivedBoundary(in: tx)?.seq
        try Self.walk(&walk, in: tx)
        // Deleting the newest rows leaves a consistent chain; SQLite's AUTOINCREMENT remembers
        // them. (PostgreSQL has no such counter: signed checkpoints will name a cut tail there.)
        let highest = tx.dialect == .sqlite ? try highestSeq(in: tx) : 0
        if walk.isIntact, highest >= walk.nextSeq {
            walk.fail(at: walk.nextSeq, "rows \(walk.nextSeq)–\(highest) were deleted from the end")
        }
        return AuditVerification(checked: walk.checked, firstBrokenSeq: walk.firstBrokenSeq, problem: walk.problem,
                                 archivedThrough: archivedThrough)
    }
}

/// How far the chain has been verified, for incremental verification.
public struct AuditCheckpoint: Sendable, Equatable {
    /// The last row verified (0 before the first).
    public var seq: Int64
    /// That row's hash: the next row must chain from it.
    public var hash: Data
    public var firstBrokenSeq: Int64?
    public var problem: String?
    /// False while older rows remain to be verified (the last call stopped at its limit).
    public var complete = false
    /// The newest signed checkpoint on record (`audit checkpoint`), for the console's header.
    public var newestSigned: SignedHead?

    public init(seq: Int64, hash: Data, firstBrokenSeq: Int64?, problem: String?, complete: Bool = false) {
        self.seq = seq
        self.hash = hash
        self.firstBrokenSeq = firstBrokenSeq
        self.problem = problem
        self.complete = complete
    }

    public var isIntact: Bool { firstBrokenSeq == nil }
}

/// The result of walking the hash chain.
public struct AuditVerification: Sendable, Equatable, Codable {
    public var checked: Int
    /// The first row that does not verify; nil when the whole chain is intact.
    public var firstBrokenSeq: Int64?
    public var problem: String?
    /// Rows up to this one are in archive files: verified only with them (`verify(archivesIn:)`).
    public var archivedThrough: Int64?

    public init(checked: Int, firstBrokenSeq: Int64?, problem: String?, archivedThrough: Int64? = nil) {
        self.checked = checked
        self.firstBrokenSeq = firstBrokenSeq
        self.problem = problem
        self.archivedThrough = archivedThrough
    }

    public var isIntact: Bool { firstBrokenSeq == nil }

    enum CodingKeys: String, CodingKey {
        case checked, problem
        case firstBrokenSeq = "first_broken_seq"
        case archivedThrough = "archived_through"
    }
}

/// The events of some actions (and reasons) in a run of whole minutes: what one column of a
/// Pulse chart counts, as the Audit pane lists it.
public struct AuditScope: Sendable, Equatable {
    public var actions: [String]
    public var reasons: PulseSeries.Reasons
    /// The first minute's start (a whole minute).
    public var from: Date
    public var minutes: Int
    /// What the pane's title calls it ("refreshes 14:05").
    public var label: String

    public init(actions: [String], reasons: PulseSeries.Reasons = .any, from: Date, minutes: Int = 1, label: String) {
        self.actions = actions
        self.reasons = reasons
        self.from = from
        self.minutes = minutes
        self.label = label
    }

    func constrain(_ query: inout ListQuery) {
        let first = AuditMinutes.minute(of: from), end = first + Int64(minutes)
        func list(_ values: [String]) -> String { "(" + values.map { _ in "?" }.joined(separator: ", ") + ")" }
        let actionValues: [any SQLValueConvertible] = actions
        // The seq range the rollup recorded for these actions and minutes bounds the scan.
        for (bound, function, fallback) in [(">=", "min(first_seq)", "0"), ("<=", "max(last_seq)", "-1")] {
            query.require("a.seq \(bound) coalesce((SELECT \(function) FROM audit_minutes WHERE minute >= ? AND minute < ? AND action IN \(list(actions))), \(fallback))",
                          [first, end] + actionValues)
        }
        query.require("a.action IN \(list(actions))", actionValues)
        switch reasons {
        case .any: break
        case .only(let reasons): query.require("coalesce(a.reason, '') IN \(list(reasons))", reasons)
        case .except(let reasons): query.require("coalesce(a.reason, '') NOT IN \(list(reasons))", reasons)
        }
        query.require("a.at >= ? AND a.at < ?", Double(first) * 60, Double(end) * 60)
    }
}
