import Foundation

/// The answer to "may this request go ahead?", with what the API turns into headers.
public struct RateLimitDecision: Sendable, Equatable {
    public var allowed: Bool
    public var policy: RateLimitPolicy
    public var key: String
    /// Requests still allowed right now.
    public var remaining: Int
    /// Seconds until one more request would be allowed (0 when allowed).
    public var retryAfter: TimeInterval
    /// Seconds until the bucket is completely full again.
    public var resetAfter: TimeInterval
}

/// A bucket as operators see it.
public struct RateLimitBucket: Sendable, Equatable, Codable, SQLRecord {
    public var key: String
    public var policy: String
    public var limit: Int
    public var period: TimeInterval
    /// GCRA's theoretical arrival time: the bucket is full again at this moment.
    public var tat: Date
    public var allowedTotal: Int64
    public var blockedTotal: Int64
    public var lastBlockedAt: Date?
    public var updatedAt: Date

    enum CodingKeys: String, CodingKey {
        case key, policy, limit, period, tat
        case allowedTotal = "allowed_total", blockedTotal = "blocked_total"
        case lastBlockedAt = "last_blocked_at", updatedAt = "updated_at"
    }

    public init(row: SQLRow) throws {
        key = try row.decode("key")
        policy = try row.decode("policy")
        limit = try row.decode("limit")
        period = try row.decode("period")
        tat = try row.decode("tat")
        allowedTotal = try row.decode("allowed_total")
        blockedTotal = try row.decode("blocked_total")
        lastBlockedAt = try row.decode("last_blocked_at")
        updatedAt = try row.decode("updated_at")
    }

    /// Requests that would be allowed at `now`.
    public func remaining(at now: Date) -> Int {
        RateLimitPolicy(name: policy, limit: limit, period: period).remaining(tat: tat.unixSeconds, now: now.unixSeconds)
    }

    /// Seconds until the next request would be allowed at `now` (0 while requests remain).
    public func retryAfter(at now: Date) -> TimeInterval {
        let policy = RateLimitPolicy(name: policy, limit: limit, period: period)
        return max(0, tat.unixSeconds + policy.emissionInterval - period - now.unixSeconds)
    }
}

public enum RateLimitBucketOrder: String, Sendable, CaseIterable {
    case blocked, recent, key
}

/// Persistent rate limiting with GCRA (the generic cell rate algorithm).
///
/// One row per bucket holds a single timestamp (`tat`). A check reads and updates that row in
/// the caller's write transaction, so two processes can never both take the last slot: SQLite
/// hands the write lock to one of them at a time; on PostgreSQL the slot is taken by a
/// conditional write at the commit (`consume`).
public final class RateLimiter: Sendable {
    let database: GatehouseDatabase
    let clock: any GatehouseClock

    init(database: GatehouseDatabase, clock: any GatehouseClock) {
        self.database = database
        self.clock = clock
    }

    /// Takes one request from `policy`'s bucket for `key` in its own transaction.
    public func check(_ policy: RateLimitPolicy, key: String) async throws -> RateLimitDecision {
        let now = clock.now()
        return try await database.write { tx in try Self.consume(policy: policy, key: key, in: tx, at: now) }
    }

    /// Synchronous form of `check`, for worker processes and benchmarks that are not async.
    public func checkNow(_ policy: RateLimitPolicy, key: String) throws -> RateLimitDecision {
        let now = clock.now()
        return try database.writeSync { tx in try Self.consume(policy: policy, key: key, in: tx, at: now) }
    }

    static func bucketKey(policy: RateLimitPolicy, key: String) -> String { "\(policy.name):\(key)" }

    /// GCRA in one read and one write; call inside a write transaction.
    private static let selectBucket = "SELECT tat, updated_at FROM rate_limit_buckets WHERE key = ?"

    /// GCRA, written once for both engines (docs/engines.md), the decision made at once from
    /// the bucket's stored `tat`. SQLite: the write transaction holds the whole database, so
    /// the read and the write below are one step. PostgreSQL: see `recordAtCommit`.
    ///
    /// The bucket's time never runs backwards: a request is decided at the later of `now` and
    /// the bucket's last decision (`updated_at`). `now` is read when the request began, and a
    /// request can reach the bucket after younger ones have (a PostgreSQL transaction run again
    /// after a conflict keeps its `now`; a node whose clock is behind another's; a thread
    /// descheduled between reading the clock and queueing its write). Decided at its own `now`,
    /// such a request found `tat` up to that lag ahead of it and was refused from a bucket with
    /// room to spare: any lag longer than the period refused every one (seen: a 10⁸/second
    /// bucket refusing refreshes on PostgreSQL under load).
    static func consume(policy: RateLimitPolicy, key: String, in transaction: some SQLTransaction, at now: Date) throws -> RateLimitDecision {
        let bucketKey = bucketKey(policy: policy, key: key)
        let stored = try transaction.fetchOne(Self.selectBucket, [bucketKey])
        let nowSeconds = max(now.unixSeconds, stored?[1].double ?? -.infinity)
        let storedTAT = stored?[0].double
        let interval = policy.emissionInterval
        let tat = max(storedTAT ?? nowSeconds, nowSeconds)
        let newTAT = tat + interval
        // A request is allowed when, after it, the bucket is no more than `period` ahead of now.
        let allowAt = newTAT - policy.period
        let allowed = allowAt <= nowSeconds + Self.tolerance

        // How long to wait is told in the caller's own time: the bucket's may be ahead of it.
        let callerNow = now.unixSeconds
        let decision: RateLimitDecision
        if allowed {
            decision = RateLimitDecision(
                allowed: true, policy: policy, key: key,
                remaining: policy.remaining(tat: newTAT, now: nowSeconds),
                retryAfter: 0, resetAfter: newTAT - callerNow)
        } else {
            decision = RateLimitDecision(
                allowed: false, policy: policy, key: key, remaining: 0,
                retryAfter: allowAt - callerNow, resetAfter: tat - callerNow)
        }
        if transaction.dialect == .postgres {
            try recordAtCommit(decision, bucketKey: bucketKey, in: transaction, at: nowSeconds)
            return decision
        }
        try transaction.execute(Self.record, [bucketKey, policy.name, policy.limit, policy.period, allowed ? newTAT : tat, allowed ? 1 : 0,
                                              allowed ? 0 : 1, allowed ? nil : nowSeconds, nowSeconds])
        return decision
    }

    /// Floating-point slack in "no more than `period` ahead".
    private static let tolerance = 1e-9

    private static let record = """
        INSERT INTO rate_limit_buckets (key, policy, "limit", period, tat, allowed_total, blocked_total, last_blocked_at, updated_at)
        VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
        ON CONFLICT(key) DO UPDATE SET
            policy = ?2, "limit" = ?3, period = ?4, tat = ?5,
            allowed_total = rate_limit_buckets.allowed_total + ?6, blocked_total = rate_limit_buckets.blocked_total + ?7,
            last_blocked_at = coalesce(?8, rate_limit_buckets.last_blocked_at), updated_at = ?9
        """

    /// PostgreSQL: the bucket is written just before the commit (`beforeCommit`), not where the
    /// decision was made. A row lock lasts to the end of its transaction, and one bucket is
    /// shared by every request from one address (a NAT, a proxy, a load balancer without
    /// --trust-proxy): locked at the start, it made all of them take turns for their whole
    /// transaction (seen: 284 refreshes/s over two nodes from one address, 462/s from many).
    /// Written at the end, it is held only through the transaction's pre-commit work (the
    /// audit append, which waits for the chain's lock) and the commit.
    ///
    /// One bucket consumed twice in one transaction would decide the second time from the
    /// stored `tat`, not the first consumption's: no caller does, and none may.
    ///
    /// The allowance stays exact: the write takes the slot only if it is still free when the
    /// row is locked (one conditional upsert; PostgreSQL re-reads a row it waited for). A request
    /// that was overtaken throws `RateLimitOvertaken`, and the engine runs its transaction again,
    /// which then sees the full bucket and answers as the rule says (a 429, its audit row).
    private static func recordAtCommit(_ decision: RateLimitDecision, bucketKey: String,
                                       in transaction: some SQLTransaction, at now: Double) throws {
        let policy = decision.policy
        try transaction.beforeCommit { tx in
            guard decision.allowed else {
                // Counted, and `tat` kept (another request may have moved it on since the read).
                try tx.execute("""
                    INSERT INTO rate_limit_buckets (key, policy, "limit", period, tat, allowed_total, blocked_total, last_blocked_at, updated_at)
                    VALUES (?1, ?2, ?3, ?4, ?5, 0, 1, ?5, ?5)
                    ON CONFLICT (key) DO UPDATE SET
                        policy = ?2, "limit" = ?3, period = ?4, tat = greatest(rate_limit_buckets.tat, ?5),
                        blocked_total = rate_limit_buckets.blocked_total + 1, last_blocked_at = ?5,
                        updated_at = greatest(rate_limit_buckets.updated_at, ?5)
                    """, [bucketKey, policy.name, policy.limit, policy.period, now])
                return
            }
            // Decided at the later of this request's time and the last writer's, as `consume`
            // is: a younger request that committed meanwhile does not make this one stale.
            let taken = try tx.fetchOne("""
                INSERT INTO rate_limit_buckets (key, policy, "limit", period, tat, allowed_total, blocked_total, updated_at)
                VALUES (?1, ?2, ?3, ?4, ?5 + ?6, 1, 0, ?5)
                ON CONFLICT (key) DO UPDATE SET
                    policy = ?2, "limit" = ?3, period = ?4,
                    tat = greatest(rate_limit_buckets.tat, ?5, rate_limit_buckets.updated_at) + ?6,
                    allowed_total = rate_limit_buckets.allowed_total + 1, updated_at = greatest(rate_limit_buckets.updated_at, ?5)
                WHERE greatest(rate_limit_buckets.tat, ?5, rate_limit_buckets.updated_at) + ?6 - ?4
                      <= greatest(rate_limit_buckets.updated_at, ?5) + ?7
                RETURNING tat
                """, [bucketKey, policy.name, policy.limit, policy.period, now, policy.emissionInterval, Self.tolerance])
            if taken == nil { throw RateLimitOvertaken(bucket: bucketKey) }
        }
    }

    // MARK: - Operators

    public func buckets(orderedBy order: RateLimitBucketOrder = .blocked, policy: String? = nil, limit: Int = 100) async throws -> [RateLimitBucket] {
        let orderBy = switch order {
        case .blocked: "blocked_total DESC, key"
        case .recent: "updated_at DESC, key"
        case .key: "key"
        }
        return try await database.read { tx in
            if let policy {
                return try tx.fetchAll(RateLimitBucket.self, "SELECT * FROM rate_limit_buckets WHERE policy = ? ORDER BY \(orderBy) LIMIT ?", [policy, limit])
            }
            return try tx.fetchAll(RateLimitBucket.self, "SELECT * FROM rate_limit_buckets ORDER BY \(orderBy) LIMIT ?", [limit])
        }
    }

    /// One window of buckets for the console, most blocked first (ties by key, descending),
    /// paged by keyset so that an attack that made a million buckets pages as fast as ten.
    /// (Only this order pages: `updated_at` is a REAL that a Date does not round-trip exactly.)
    public func list(text: TextFilter? = nil, limit: Int = 100, page: Page = .first) async throws -> [RateLimitBucket] {
        var query = ListQuery(dialect: database.dialect)
        query.match(text, in: "key || ' ' || policy")
        return try await query.fetch(RateLimitBucket.self, select: "SELECT * FROM rate_limit_buckets", keyColumns: ["blocked_total", "key"],
                                     page: page, limit: limit, from: database)
    }

    /// The key that orders `list` and that `Page` cursors hold.
    public static func pageKey(_ bucket: RateLimitBucket) -> PageKey { [.int(bucket.blockedTotal), .text(bucket.key)] }

    /// Bucket keys that start with `prefix`, in order.
    public func keys(startingWith prefix: String, limit: Int = 20) async throws -> [String] {
        try await database.read { tx in
            try tx.fetchColumn(String.self, "SELECT key FROM rate_limit_buckets WHERE key >= ? AND key < ? ORDER BY key LIMIT ?",
                               PrefixRange.arguments(prefix, limit: limit))
        }
    }

    public func bucket(key: String) async throws -> RateLimitBucket? {
        try await database.read { tx in
            try tx.fetchOne(RateLimitBucket.self, "SELECT * FROM rate_limit_buckets WHERE key = ?", [key])
        }
    }

    /// Empties a bucket so that its client may go again at once. Audited with the actor.
    /// Returns false when there was no such bucket.
    @discardableResult
    public func reset(key: String, by actor: Actor, context: ClientContext = .none) async throws -> Bool {
        let now = clock.now()
        return try await database.write { tx in
            guard let bucket = try tx.fetchOne(RateLimitBucket.self, "SELECT * FROM rate_limit_buckets WHERE key = ?", [key]) else {
                return false
            }
            try tx.execute("UPDATE rate_limit_buckets SET tat = ?, updated_at = ? WHERE key = ?", [now.unixSeconds, now.unixSeconds, key])
            try AuditLog.append(AuditEntry(
                actor: actor, action: "rate_limit.reset", targetType: "rate_limit", targetId: key,
                context: context, details: ["policy": bucket.policy, "blocked_total": String(bucket.blockedTotal)]),
                in: tx, at: now)
            return true
        }
    }
}

/// PostgreSQL: the slot a request was allowed had been taken by another transaction by the time
/// this one wrote its bucket at the commit. The engine runs the transaction again (it did not
/// commit): then the bucket reads full and the request is refused as the rule says.
struct RateLimitOvertaken: Error, CustomStringConvertible {
    var bucket: String
    var description: String { "rate-limit bucket \(bucket) was filled by a concurrent request" }
}
