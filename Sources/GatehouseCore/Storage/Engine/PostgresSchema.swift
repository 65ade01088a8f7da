/// The PostgreSQL schema, table by table as the rules move onto the seam. Not a released
/// migration yet: when the whole schema is translated, these statements become the PostgreSQL
/// side of the same versions SQLite's `Schema` has (docs/engines.md), and are frozen there.
///
/// Translation rules: `REAL` unix seconds → `double precision`; `INTEGER` counters → `bigint`;
/// `BLOB` → `bytea`; `INTEGER PRIMARY KEY` → `bigint GENERATED ALWAYS AS IDENTITY`.
public enum PostgresSchema {
    public static let rateLimitBuckets = """
        CREATE TABLE rate_limit_buckets (
            key              text PRIMARY KEY,
            policy           text NOT NULL,
            "limit"          bigint NOT NULL,
            period           double precision NOT NULL,
            tat              double precision NOT NULL,
            allowed_total    bigint NOT NULL DEFAULT 0,
            blocked_total    bigint NOT NULL DEFAULT 0,
            last_blocked_at  double precision,
            updated_at       double precision NOT NULL
        );
        CREATE INDEX rate_limit_buckets_blocked ON rate_limit_buckets(blocked_total);
        """

    /// The audit log: seq given by `AuditLog.append` under the chain's advisory lock; a trigger
    /// refuses UPDATE and DELETE, as SQLite's do.
    public static let auditEvents = """
        CREATE TABLE audit_events (
            seq          bigint PRIMARY KEY,
            at           double precision NOT NULL,
            actor_type   text NOT NULL CHECK (actor_type IN ('user', 'operator', 'system')),
            actor_id     text,
            action       text NOT NULL,
            target_type  text,
            target_id    text,
            outcome      text NOT NULL,
            reason       text,
            ip           text,
            user_agent   text,
            request_id   text,
            details      text,
            prev_hash    bytea NOT NULL,
            hash         bytea NOT NULL
        );
        CREATE INDEX audit_events_target ON audit_events(target_type, target_id);
        CREATE FUNCTION audit_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN RAISE EXCEPTION 'audit_events is append-only'; END $$;
        CREATE TRIGGER audit_events_append_only BEFORE UPDATE OR DELETE ON audit_events
            FOR EACH ROW EXECUTE FUNCTION audit_events_append_only();
        """
}
