import Foundation

/// The audit log's per-minute rollup (`audit_minutes`, migration v7): how many events of each
/// action (and, for actions whose reason is a fixed code, each reason) happened in each minute,
/// and the seq range they span. Kept in the transaction that appends the event, so the Pulse
/// pane reads an hour as ~60 small rows per series instead of counting millions of events, and
/// "the events of this action in this minute" is a seq range scan.
///
/// The rollup is derived data, outside the hash chain: it may be pruned and rebuilt
/// (`rebuildSQL`). It counts events the audit throttle left out of the log too (`unrecorded`),
/// so a flood shows at its real height while the log stays bounded. Those are counted in rows
/// of their own (`shard` 1…`unrecordedShards`, chosen at random): the rows of recorded events
/// (`shard` 0) are written only under the chain's lock, so an append never waits for a row a
/// flood of refused requests holds, and the flood itself spreads over several rows. Readers
/// sum over the shards.
enum AuditMinutes {
    /// Actions whose `reason` is one of a fixed set of codes (a `CredentialFailure`): the rollup
    /// keeps one row per reason for them. Other actions' reasons are free text (a relay's
    /// answer, an error) and are rolled up under "".
    static let codedReasonActions: [String] = ["refresh.failed", "session.lookup_failed", "access_token.rejected", "magic_link.failed"]

    /// Minutes kept: the Pulse pane shows at most a day; older rows are pruned as appends go on.
    static let keptMinutes: Int64 = 2 * 24 * 60
    /// Appends between two prunes of minutes older than `keptMinutes` (bounded, amortised work).
    static let pruneEvery: Int64 = 10_000

    /// The minute (Unix minutes) of an event stored at `milliseconds`: the same arithmetic as
    /// the stored `at`, so an event's rollup minute and its `at` always agree.
    static func minute(milliseconds: Int64) -> Int64 { milliseconds >= 0 ? milliseconds / 60_000 : (milliseconds - 59_999) / 60_000 }

    static func minute(of date: Date) -> Int64 { minute(milliseconds: milliseconds(of: date)) }

    /// Whole milliseconds: the precision the audit log stores `at` with.
    static func milliseconds(of date: Date) -> Int64 { Int64((date.timeIntervalSince1970 * 1000).rounded()) }

    /// Rows an unrecorded event's count may go to (see the type's comment).
    static let unrecordedShards = 8

    static func reasonKey(action: String, reason: String?) -> String {
        codedReasonActions.contains(action) ? (reason ?? "") : ""
    }

    /// Counts one event: `seq` is nil for an event the throttle kept out of the log.
    static func count(action: String, reason: String?, seq: Int64?, milliseconds: Int64, in transaction: some SQLTransaction) throws {
        let minute = minute(milliseconds: milliseconds)
        let shard = seq == nil ? Int.random(in: 1...unrecordedShards) : 0
        try transaction.execute(upsert, [minute, action, reasonKey(action: action, reason: reason), shard, seq == nil ? 1 : 0, seq, seq])
        if let seq, seq % pruneEvery == 0 {
            try transaction.execute("DELETE FROM audit_minutes WHERE minute < ?", [minute - keptMinutes])
        }
    }

    /// `first_seq` is the first recorded event's (appends are serialised, so seqs only grow
    /// within a row); `last_seq` the newest.
    private static let upsert = """
        INSERT INTO audit_minutes (minute, action, reason, shard, count, unrecorded, first_seq, last_seq) VALUES (?, ?, ?, ?, 1, ?, ?, ?)
        ON CONFLICT (minute, action, reason, shard) DO UPDATE SET count = audit_minutes.count + 1,
            unrecorded = audit_minutes.unrecorded + excluded.unrecorded,
            first_seq = coalesce(audit_minutes.first_seq, excluded.first_seq),
            last_seq = coalesce(excluded.last_seq, audit_minutes.last_seq)
        """

    /// Fills the rollup from the events since minute `since` (SQL): what migration v7, a copy
    /// and the synthetic seeder run.
    static func rebuildSQL(dialect: SQLDialect, since: String) -> String {
        let coded = codedReasonActions.map { "'\($0)'" }.joined(separator: ", ")
        return """
            INSERT INTO audit_minutes (minute, action, reason, shard, count, unrecorded, first_seq, last_seq)
            SELECT \(dialect.unixMinute("at")) AS m, action, CASE WHEN action IN (\(coded)) THEN coalesce(reason, '') ELSE '' END AS r,
                   0, count(*), 0, min(seq), max(seq)
            FROM audit_events WHERE at >= (\(since)) * 60
            GROUP BY m, action, r
            ON CONFLICT (minute, action, reason, shard) DO NOTHING
            """
    }

    /// The rollup rebuilt over the last `keptMinutes` before `now` (the synthetic seeder).
    static func rebuild(in tx: any SQLTransaction, now: Date) throws {
        try tx.execute("DELETE FROM audit_minutes")
        let since = String(minute(of: now) - keptMinutes)
        try tx.execute(rebuildSQL(dialect: tx.dialect, since: since))
    }
}
