import Foundation
import GRDB

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

    /// Appends one row, chained to the last one. Call inside a write transaction.
    @discardableResult
    static func append(_ entry: AuditEntry, in db: Database, at now: Date) throws -> Int64 {
        try append(entry, in: GRDBTransaction(db: db), at: now)
    }

    /// The PostgreSQL advisory lock that serialises appends to the chain ("gatehouse audit
    /// chain" as a bigint): held to the end of the transaction, so there is one order of rows
    /// and no fork, while everything else in those transactions runs side by side.
    static let chainLock: Int64 = 0x6761_7465_6175_6474

    /// Written once for both engines (docs/engines.md). SQLite: the write transaction holds the
    /// database, and AUTOINCREMENT's counter gives the next seq. PostgreSQL: the chain's
    /// advisory lock first, then the head row (rows are never deleted: head + 1 is the next seq).
    @discardableResult
    static func append(_ entry: AuditEntry, in transaction: some SQLTransaction, at now: Date) throws -> Int64 {
        let last: SQLRow?
        if transaction.dialect == .postgres {
            _ = try transaction.fetchOne("SELECT pg_advisory_xact_lock(?)", [.int(chainLock)])
            last = try transaction.fetchOne("SELECT hash, seq FROM audit_events ORDER BY seq DESC LIMIT 1", [])
        } else {
            // AUTOINCREMENT never reuses a number, so the next seq is known before the insert and
            // can be part of the hashed content.
            last = try transaction.fetchOne(Self.sqliteHead, [])
        }
        let previous: Data = if case .blob(let bytes) = last?[0] ?? .null { Data(bytes) } else { genesisHash }
        let seq = (last?[1].int ?? 0) + 1
        let milliseconds = Int64((now.timeIntervalSince1970 * 1000).rounded())
        let details = entry.detailsJSON
        let ip = entry.ip
        let canonical = AuditEvent.canonicalEncoding(
            seq: seq, atMilliseconds: milliseconds, actorType: entry.actor.typeName,
            actorId: entry.actor.identifier, action: entry.action, targetType: entry.targetType,
            targetId: entry.targetId, outcome: entry.outcome.rawValue, reason: entry.reason, ip: ip,
            userAgent: entry.context.userAgent, requestId: entry.context.requestId, details: details)
        let hash = AuditEvent.chainHash(previous: previous, canonical: canonical)
        func text(_ value: String?) -> SQLValue { value.map(SQLValue.text) ?? .null }
        try transaction.execute(Self.insert, [
            .int(seq), .double(Double(milliseconds) / 1000), .text(entry.actor.typeName), text(entry.actor.identifier),
            .text(entry.action), text(entry.targetType), text(entry.targetId), .text(entry.outcome.rawValue),
            text(entry.reason), text(ip), text(entry.context.userAgent), text(entry.context.requestId),
            text(details), .blob([UInt8](previous)), .blob([UInt8](hash)),
        ])
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
    static func appendThrottled(_ entry: AuditEntry, in db: Database, at now: Date, policies: [RateLimitPolicy]) throws -> Bool {
        try appendThrottled(entry, in: GRDBTransaction(db: db), at: now, policies: policies)
    }

    @discardableResult
    static func appendThrottled(_ entry: AuditEntry, in transaction: some SQLTransaction, at now: Date,
                                policies: [RateLimitPolicy]) throws -> Bool {
        for (index, policy) in policies.enumerated() {
            // The first policy is per client, the others are global.
            let key = index == 0 ? entry.context.clientKey : "*"
            guard try RateLimiter.consume(policy: policy, key: key, in: transaction, at: now).allowed else { return false }
        }
        try append(entry, in: transaction, at: now)
        return true
    }

    /// Appends one row in its own transaction: for callers outside a service's transaction
    /// (and the benchmark of the append path itself).
    @discardableResult
    public func record(_ entry: AuditEntry) async throws -> Int64 {
        let now = clock.now()
        return try await database.write { db in try Self.append(entry, in: db, at: now) }
    }

    // MARK: - Reading

    /// The newest `limit` events, oldest first (what `tail` prints).
    public func tail(limit: Int) async throws -> [AuditEvent] {
        try await database.read { db in
            try AuditEvent.fetchAll(db, sql: "SELECT * FROM (SELECT * FROM audit_events ORDER BY seq DESC LIMIT ?) ORDER BY seq", arguments: [limit])
        }
    }

    /// Events with `seq` greater than `seq`, oldest first (what `tail --follow` polls for).
    public func events(after seq: Int64, limit: Int = 1000) async throws -> [AuditEvent] {
        try await database.read { db in
            try AuditEvent.fetchAll(db, sql: "SELECT * FROM audit_events WHERE seq > ? ORDER BY seq LIMIT ?", arguments: [seq, limit])
        }
    }

    /// Events about one target (a session handle, a token fingerprint, a user), oldest first.
    public func events(targetType: String, targetId: String, limit: Int = 500) async throws -> [AuditEvent] {
        try await database.read { db in
            try AuditEvent.fetchAll(db, sql: """
                SELECT * FROM audit_events WHERE target_type = ? AND target_id = ? ORDER BY seq LIMIT ?
                """, arguments: [targetType, targetId, limit])
        }
    }

    /// The key that orders audit listings (newest first) and that `Page` cursors hold.
    public static func pageKey(_ event: AuditEvent) -> PageKey { [.int(event.seq)] }

    /// One window of events, newest first, by keyset on seq (no OFFSET: row ten million costs
    /// what row one does). `text` matches action, actor, target, outcome, reason, IP, request id
    /// and details, as `type:id` pairs (`operator:alice`, `session:ses_…`).
    public func list(text: TextFilter? = nil, limit: Int = 100, page: Page = .first) async throws -> [AuditEvent] {
        var query = ListQuery()
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
        return try await database.read { db in
            var walk = checkpoint.map { ChainWalk(after: $0.seq, hash: $0.hash) } ?? .beginning
            // A cursor, not an array: a step's rows never sit in memory together.
            let events = try AuditEvent.fetchCursor(db, sql: "SELECT * FROM audit_events WHERE seq > ? ORDER BY seq LIMIT ?",
                                                    arguments: [walk.nextSeq - 1, limit])
            var count = 0
            while let event = try events.next() {
                count += 1
                guard walk.check(event) else { break }
            }
            return AuditCheckpoint(seq: walk.nextSeq - 1, hash: walk.previousHash ?? Self.genesisHash,
                                   firstBrokenSeq: walk.firstBrokenSeq, problem: walk.problem, complete: count < limit)
        }
    }

    /// Walks the whole chain and names the first row that does not match.
    public func verify() async throws -> AuditVerification {
        try await database.read { db in try Self.verify(in: db) }
    }

    static func verify(in db: Database) throws -> AuditVerification {
        var walk = ChainWalk.beginning
        let cursor = try AuditEvent.fetchCursor(db, sql: "SELECT * FROM audit_events ORDER BY seq")
        while let event = try cursor.next() {
            guard walk.check(event) else { break }
        }
        // Deleting the newest rows leaves a consistent chain; AUTOINCREMENT remembers them.
        let highest = try Int64.fetchOne(db, sql: "SELECT seq FROM sqlite_sequence WHERE name = 'audit_events'") ?? 0
        if walk.isIntact, highest >= walk.nextSeq {
            walk.fail(at: walk.nextSeq, "rows \(walk.nextSeq)–\(highest) were deleted from the end")
        }
        return AuditVerification(checked: walk.checked, firstBrokenSeq: walk.firstBrokenSeq, problem: walk.problem)
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

    public var isIntact: Bool { firstBrokenSeq == nil }

    enum CodingKeys: String, CodingKey {
        case checked, problem
        case firstBrokenSeq = "first_broken_seq"
    }
}
