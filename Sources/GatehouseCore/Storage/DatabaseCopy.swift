import Foundation

/// `gatehouse copy`: every Gatehouse table of one database into another, between engines
/// (SQLite ⇄ PostgreSQL) or within one, rows as they are: ids, hashes, the signing keys and
/// the service secrets, the audit chain bit for bit.
///
/// - Consistency: the source is read in one read transaction (SQLite: a WAL snapshot;
///   PostgreSQL: REPEATABLE READ), so the copy is the database as it was at one instant even
///   while servers write to it. What they commit later is not in the copy (`Report.sourceMoved`
///   tells whether they did); a switch-over stops them first.
/// - Atomicity: the target is written in one transaction. It is committed only after the
///   copied audit chain verified on the target and its head equals the source's; any failure
///   leaves the target as it was.
/// - A target that holds a deployment's data is refused unless `replacing`; one that holds only
///   what `gatehouse init` writes (a signing key, service secrets and their audit events) is
///   replaced, its key by the source's.
public enum DatabaseCopy {
    /// Every table, parents before children (foreign keys hold at each statement), with the
    /// unique key its rows are read in order of (keyset pages: no OFFSET over millions of rows).
    static let tables: [(name: String, key: String)] = [
        ("users", "id"), ("user_email_conflicts", "user_id"), ("magic_links", "id"), ("outbox", "id"), ("sessions", "id"),
        ("session_secrets", "secret_hash"), ("refresh_tokens", "id"), ("signing_keys", "kid"), ("service_secrets", "name"),
        ("rate_limit_buckets", "key"), ("audit_archives", "id"), ("audit_events", "seq"), ("payment_events", "event_id"), ("jobs", "id"), ("job_outputs", "id"),
    ]
    /// Tables whose `id` PostgreSQL generates (an identity): its sequence continues after the copied ids.
    static let identityTables = ["users", "magic_links", "outbox", "sessions", "refresh_tokens", "jobs", "job_outputs", "audit_archives"]
    /// The audit events `gatehouse init` (or a first start) writes into a database nobody used yet.
    static let setUpActions = ["signing_key.created", "service_secret.created"]
    static let pageSize = 2_000

    /// How far a copy is: rows copied of the current table and of all.
    public struct Progress: Sendable {
        public var table: String
        public var copied: Int
        public var total: Int
    }

    /// What a finished copy did.
    public struct Report: Sendable {
        /// Rows per table, in copy order.
        public var rows: [(table: String, count: Int)]
        /// When the source's read transaction began: the instant the copy shows.
        public var snapshotAt: Date
        /// The chain head on both sides (nil for an empty audit log).
        public var auditHead: (seq: Int64, hash: Data)?
        /// The target's audit event that records the copy (right after the copied head).
        public var recordedAs: Int64
        /// Rows the target held before (`replacing`), by table; empty when it held none.
        public var replaced: [(table: String, count: Int)]
        /// The source's audit log grew while the copy ran (from, to): audited writes the copy
        /// does not have. (Unaudited ones, such as a rate-limit bucket's count, do not show here.)
        public var sourceMoved: (from: Int64, to: Int64)?

        public var total: Int { rows.reduce(0) { $0 + $1.count } }
        public func count(_ table: String) -> Int { rows.first { $0.table == table }?.count ?? 0 }
    }

    /// Which database an engine error came from, so that its sentence names the right one.
    public enum Side: Sendable {
        case source, target

        func run<T>(_ body: () throws -> T) throws -> T {
            do { return try body() } catch let error as CopyError { throw error } catch let error as SideError { throw error } catch {
                throw SideError(side: self, underlying: error)
            }
        }
    }

    /// An engine error of one side's (`Side`); the target's are thrown as they are otherwise.
    public struct SideError: Error {
        public var side: Side
        public var underlying: any Error
    }

    public enum CopyError: Error, CustomStringConvertible {
        /// The target holds a deployment's data (rows by table); `--force` replaces it.
        case targetHoldsData([(table: String, count: Int)])
        /// The copied chain does not verify: the source's is broken (the first bad row and why).
        case brokenChain(seq: Int64?, problem: String)

        public var description: String {
            switch self {
            case .targetHoldsData(let rows):
                "the target already holds data (\(DatabaseCopy.describe(rows))); nothing was copied. "
                    + "Copy into an empty database, or pass --force to replace everything in it"
            case .brokenChain(let seq, let problem):
                "the source's audit chain does not verify\(seq.map { " at #\($0)" } ?? ""): \(problem); nothing was copied "
                    + "(a copy would hide the break). Run `gatehouse audit verify` on the source"
            }
        }
    }

    /// "12 users, 40 sessions, 1,204 audit_events": the non-empty tables.
    public static func describe(_ rows: [(table: String, count: Int)]) -> String {
        rows.filter { $0.count > 0 }.map { "\($0.count.formatted()) \($0.table)" }.joined(separator: ", ")
    }

    /// Copies `source` into `target` (both opened, the target's schema current). Blocks the
    /// calling thread; `progress` is called after every page.
    /// Copies `source` into `target` (both opened, the target's schema current). Blocks the
    /// calling thread; `progress` is called after every page. The copy is recorded on the
    /// target as one more audit event (`database.copied_in`, by `actor`, naming the source, the
    /// snapshot time and the source's head), after the head that equals the source's.
    /// - Throws: `CopyError`, `SideError` (an engine's error, with the side it came from); the
    ///   target is then unchanged.
    public static func run(from source: GatehouseDatabase, to target: GatehouseDatabase, replacing: Bool, by actor: Actor,
                           progress: (Progress) -> Void = { _ in }) throws -> Report {
        let snapshotAt = Date()
        // The source's statements are tagged where they run (`Side.source.run`); whatever else
        // fails inside the target's transaction is the target's.
        var report = try Side.source.run {
            try source.readSync { from in
                try Side.target.run {
                    try target.writeSync { to in
                        try copyAll(from: from, to: to, sourceName: source.path, snapshotAt: snapshotAt, replacing: replacing,
                                    by: actor, progress: progress)
                    }
                }
            }
        }
        let copiedHead = report.auditHead?.seq ?? 0
        let headNow = try Side.source.run { try source.readSync { try chainHead($0)?.seq ?? 0 } }
        if headNow != copiedHead { report.sourceMoved = (copiedHead, headNow) }
        return report
    }

    /// The copy inside the source's read transaction and the target's write transaction.
    private static func copyAll(from: any SQLTransaction, to: any SQLTransaction, sourceName: String, snapshotAt: Date,
                                replacing: Bool, by actor: Actor, progress: (Progress) -> Void) throws -> Report {
        // Each side waits while the other works (a page written, the chain verified):
        // PostgreSQL must not end either session as idle in its transaction.
        for (side, tx) in [(Side.source, from), (Side.target, to)] where tx.dialect == .postgres {
            try side.run { try tx.execute("SET LOCAL idle_in_transaction_session_timeout = 0") }
        }
        let held = try tables.map { (table: $0.name, count: try count($0.name, in: to)) }
        let replaced = held.filter { $0.count > 0 }
        if try !isUnused(held, to), !replacing { throw CopyError.targetHoldsData(replaced) }
        try clear(to)
        let total = try Side.source.run { try tables.reduce(0) { $0 + (try count($1.name, in: from)) } }
        var copied = 0
        var rows: [(table: String, count: Int)] = []
        for table in tables {
            let tableRows = try copy(table, from: from, to: to) { page in
                copied += page
                progress(Progress(table: table.name, copied: copied, total: max(total, copied)))
            }
            rows.append((table.name, tableRows))
        }
        try continueIdentities(to)
        // The source's head now, while its snapshot is still needed; then only the target works.
        let sourceHead = try Side.source.run { try chainHead(from) }
        let sourceHighest = try Side.source.run { from.dialect == .sqlite ? try AuditLog.highestSeq(in: from) : 0 }
        progress(Progress(table: "verifying the copied audit chain", copied: copied, total: max(total, copied)))
        let head = try verifyChain(sourceHead: sourceHead, sourceHighest: sourceHighest, on: to)
        // The per-minute rollup is derived from the copied events, not copied.
        try AuditMinutes.rebuild(in: to, now: Date())
        let recordedAs = try AuditLog.appendNow(AuditEntry(
            actor: actor, action: "database.copied_in", targetType: "database",
            details: ["source": sourceName, "snapshot_at": ISO8601DateFormatter().string(from: snapshotAt),
                      "source_head": String(head?.seq ?? 0), "source_head_hash": head.map { Fingerprint.hex($0.hash) } ?? "",
                      "rows": String(copied), "replaced": describe(replaced)]),
            in: to, at: Date())
        return Report(rows: rows, snapshotAt: snapshotAt, auditHead: head, recordedAs: recordedAs, replaced: replaced, sourceMoved: nil)
    }

    private static func count(_ table: String, in tx: any SQLTransaction) throws -> Int {
        try tx.fetchScalar(Int.self, "SELECT count(*) FROM \(table)") ?? 0
    }

    /// Nothing but what setting a database up writes: no user, no session, no job, no payment,
    /// and only the set-up events in the audit log.
    private static func isUnused(_ held: [(table: String, count: Int)], _ tx: any SQLTransaction) throws -> Bool {
        let setUp: Set = ["signing_keys", "service_secrets", "audit_events"]
        guard held.allSatisfy({ setUp.contains($0.table) || $0.count == 0 }) else { return false }
        let placeholders = setUpActions.map { _ in "?" }.joined(separator: ", ")
        let others = try tx.fetchScalar(Int.self, "SELECT count(*) FROM audit_events WHERE action NOT IN (\(placeholders))",
                                        SQLArguments(setUpActions.map { .text($0) })) ?? 0
        return others == 0
    }

    /// Empties every table. The audit log refuses row deletes (its append-only triggers):
    /// PostgreSQL's TRUNCATE fires no row trigger; SQLite's triggers are dropped and made again
    /// from their own stored text, inside this transaction. SQLite's AUTOINCREMENT counters go
    /// too, or `audit verify` would read the old log's length as rows cut from the end.
    private static func clear(_ tx: any SQLTransaction) throws {
        switch tx.dialect {
        case .postgres:
            try tx.execute("TRUNCATE " + tables.map(\.name).joined(separator: ", ") + " RESTART IDENTITY")
        case .sqlite:
            let triggers = try tx.fetchColumn(String.self, "SELECT sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name IN ('audit_events', 'audit_archives')")
            let names = try tx.fetchColumn(String.self, "SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name IN ('audit_events', 'audit_archives')")
            for name in names { try tx.execute("DROP TRIGGER \"\(name)\"") }
            for table in tables.reversed() { try tx.execute("DELETE FROM \(table.name)") }
            try tx.execute("DELETE FROM sqlite_sequence")
            for sql in triggers { try tx.execute(sql) }
        }
    }

    /// One table, page by page in key order; returns its row count.
    private static func copy(_ table: (name: String, key: String), from: any SQLTransaction, to: any SQLTransaction,
                             page done: (Int) -> Void) throws -> Int {
        var after: SQLValue?
        var copied = 0
        while true {
            let rows = try Side.source.run {
                try after.map {
                    try from.fetchAll("SELECT * FROM \(table.name) WHERE \"\(table.key)\" > ? ORDER BY \"\(table.key)\" LIMIT \(pageSize)", [$0])
                } ?? from.fetchAll("SELECT * FROM \(table.name) ORDER BY \"\(table.key)\" LIMIT \(pageSize)")
            }
            guard let first = rows.first else { return copied }
            let names = first.columns.names
            var batch = InsertBatch(to, "INSERT INTO \(table.name) (\(names.map { "\"\($0)\"" }.joined(separator: ", "))) VALUES",
                                    row: "(" + names.map { _ in "?" }.joined(separator: ", ") + ")")
            for row in rows { try batch.add(SQLArguments(row.values)) }
            try batch.flush()
            copied += rows.count
            done(rows.count)
            after = rows.last?[table.key]
            if rows.count < pageSize { return copied }
        }
    }

    /// PostgreSQL: each identity's sequence continues after the highest copied id (the next
    /// insert must not collide with a copied row).
    private static func continueIdentities(_ tx: any SQLTransaction) throws {
        guard tx.dialect == .postgres else { return }
        for table in identityTables {
            _ = try tx.fetchOne("SELECT setval(pg_get_serial_sequence('\(table)', 'id'), coalesce(max(id), 0) + 1, false) FROM \(table)")
        }
    }

    /// The copied chain, walked on the target, must be intact and end where the source's does.
    /// A source SQLite file whose newest rows were cut shows it by its AUTOINCREMENT counter
    /// (`sourceHighest`, 0 for PostgreSQL): compared too, as `audit verify` does on the source itself.
    private static func verifyChain(sourceHead head: (seq: Int64, hash: Data)?, sourceHighest highest: Int64,
                                    on to: any SQLTransaction) throws -> (seq: Int64, hash: Data)? {
        let verification = try AuditLog.verify(in: to)
        guard verification.isIntact else {
            throw CopyError.brokenChain(seq: verification.firstBrokenSeq, problem: verification.problem ?? "")
        }
        let last = head?.seq ?? 0
        if highest > last {
            throw CopyError.brokenChain(seq: last + 1, problem: "rows \(last + 1)–\(highest) were deleted from the end")
        }
        let copiedHead = try chainHead(to)
        guard copiedHead?.seq == head?.seq, copiedHead?.hash == head?.hash else {
            throw CopyError.brokenChain(seq: copiedHead?.seq, problem: "the copied chain ends at another head than the source's")
        }
        return head
    }

    private static func chainHead(_ tx: any SQLTransaction) throws -> (seq: Int64, hash: Data)? {
        guard let row = try tx.fetchOne("SELECT seq, hash FROM audit_events ORDER BY seq DESC LIMIT 1") else { return nil }
        return (try row.decode("seq"), try row.decode("hash"))
    }
}
