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
}
