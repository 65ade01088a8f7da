import GRDB

/// The ordered list of schema migrations.
///
/// Migrations are append-only: a released migration is never edited, a change is a new entry.
/// A database that has applied a migration this list does not know was written by a newer
/// binary and is refused (see `GatehouseDatabase.open`).
enum Schema {
    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1-foundation", migrate: createFoundation)
        migrator.registerMigration("v2-payments", migrate: createPayments)
        migrator.registerMigration("v3-jobs", migrate: createJobs)
        migrator.registerMigration("v4-normalised-emails", migrate: normaliseStoredEmails)
        migrator.registerMigration("v5-mail-delivery-and-key-rotation", migrate: addMailDeliveryAndKeyRotation)
        migrator.registerMigration("v6-audit-archives", migrate: addAuditArchives)
        migrator.registerMigration("v7-audit-minutes", migrate: addAuditMinutes)
        return migrator
    }

    /// Users, magic links, outbox, sessions, session secrets, refresh tokens, signing keys,
    /// rate-limit buckets and the audit log.
    private static func createFoundation(_ db: Database) throws {
        try db.execute(sql: """
            CREATE TABLE users (
                id          INTEGER PRIMARY KEY,
                email       TEXT NOT NULL UNIQUE,
                created_at  REAL NOT NULL,
                credits     INTEGER NOT NULL DEFAULT 0
            );

            CREATE TABLE magic_links (
                id           INTEGER PRIMARY KEY,
                token_hash   BLOB NOT NULL UNIQUE,
                user_id      INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
                created_at   REAL NOT NULL,
                expires_at   REAL NOT NULL,
                consumed_at  REAL,
                ip           TEXT,
                user_agent   TEXT
            );
            CREATE INDEX magic_links_user ON magic_links(user_id);

            -- The development mail sink: what would have been sent, in order.
            CREATE TABLE outbox (
                id          INTEGER PRIMARY KEY,
                created_at  REAL NOT NULL,
                recipient   TEXT NOT NULL,
                subject     TEXT NOT NULL,
                body        TEXT NOT NULL
            );

            CREATE TABLE sessions (
                id                   INTEGER PRIMARY KEY,
                handle               TEXT NOT NULL UNIQUE,
                user_id              INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
                kind                 TEXT NOT NULL CHECK (kind IN ('web', 'api')),
                state                TEXT NOT NULL CHECK (state IN ('active', 'logged_out', 'revoked', 'expired')),
                end_reason           TEXT,
                ended_by             TEXT,
                ended_at             REAL,
                created_at           REAL NOT NULL,
                last_seen_at         REAL NOT NULL,
                idle_timeout         REAL NOT NULL,
                absolute_expires_at  REAL NOT NULL,
                ip                   TEXT,
                user_agent           TEXT,
                refresh_family       TEXT UNIQUE
            );
            CREATE INDEX sessions_user ON sessions(user_id);

            -- Every secret a web session has carried. The newest has superseded_at NULL; older
            -- ones keep working until grace_until, then fail with reason "rotated".
            CREATE TABLE session_secrets (
                secret_hash    BLOB PRIMARY KEY,
                session_id     INTEGER NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
                created_at     REAL NOT NULL,
                superseded_at  REAL,
                grace_until    REAL
            ) WITHOUT ROWID;
            CREATE INDEX session_secrets_session ON session_secrets(session_id);

            CREATE TABLE refresh_tokens (
                id              INTEGER PRIMARY KEY,
                token_hash      BLOB NOT NULL UNIQUE,
                family          TEXT NOT NULL,
                session_id      INTEGER NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
                parent_id       INTEGER REFERENCES refresh_tokens(id),
                state           TEXT NOT NULL CHECK (state IN ('active', 'used', 'revoked', 'reused')),
                issued_at       REAL NOT NULL,
                expires_at      REAL NOT NULL,
                used_at         REAL,
                revoked_at      REAL,
                revoked_reason  TEXT
            );
            CREATE INDEX refresh_tokens_session ON refresh_tokens(session_id);
            CREATE INDEX refresh_tokens_family ON refresh_tokens(family);

            -- Keys the service generates for itself on first use (JWT signing, token derivation).
            CREATE TABLE signing_keys (
                kid              TEXT PRIMARY KEY,
                algorithm        TEXT NOT NULL,
                private_key_pem  TEXT NOT NULL,
                created_at       REAL NOT NULL,
                retired_at       REAL
            );
            CREATE TABLE service_secrets (
                name        TEXT PRIMARY KEY,
                value       BLOB NOT NULL,
                created_at  REAL NOT NULL
            );

            -- One row per bucket; GCRA state is the theoretical arrival time (tat).
            CREATE TABLE rate_limit_buckets (
                key              TEXT PRIMARY KEY,
                policy           TEXT NOT NULL,
                "limit"          INTEGER NOT NULL,
                period           REAL NOT NULL,
                tat              REAL NOT NULL,
                allowed_total    INTEGER NOT NULL DEFAULT 0,
                blocked_total    INTEGER NOT NULL DEFAULT 0,
                last_blocked_at  REAL,
                updated_at       REAL NOT NULL
            ) WITHOUT ROWID;
            CREATE INDEX rate_limit_buckets_blocked ON rate_limit_buckets(blocked_total);

            CREATE TABLE audit_events (
                seq          INTEGER PRIMARY KEY AUTOINCREMENT,
                at           REAL NOT NULL,
                actor_type   TEXT NOT NULL CHECK (actor_type IN ('user', 'operator', 'system')),
                actor_id     TEXT,
                action       TEXT NOT NULL,
                target_type  TEXT,
                target_id    TEXT,
                outcome      TEXT NOT NULL,
                reason       TEXT,
                ip           TEXT,
                user_agent   TEXT,
                request_id   TEXT,
                details      TEXT,
                prev_hash    BLOB NOT NULL,
                hash         BLOB NOT NULL
            );
            CREATE INDEX audit_events_target ON audit_events(target_type, target_id);
            CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events
                BEGIN SELECT RAISE(ABORT, 'audit_events is append-only'); END;
            CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events
                BEGIN SELECT RAISE(ABORT, 'audit_events is append-only'); END;
            """)
    }

    /// The payment-webhook ledger: one row per event id, the idempotency key of its effect.
    private static func createPayments(_ db: Database) throws {
        try db.execute(sql: """
            CREATE TABLE payment_events (
                event_id          TEXT PRIMARY KEY,
                type              TEXT NOT NULL,
                received_at       REAL NOT NULL,
                last_delivery_at  REAL NOT NULL,
                deliveries        INTEGER NOT NULL DEFAULT 1,
                payload_sha256    BLOB NOT NULL,
                outcome           TEXT NOT NULL CHECK (outcome IN ('credited', 'recorded', 'unmatched')),
                user_id           INTEGER REFERENCES users(id),
                amount            INTEGER,
                currency          TEXT,
                note              TEXT
            ) WITHOUT ROWID;
            """)
    }

    /// The document-job queue and the files jobs wrote.
    private static func createJobs(_ db: Database) throws {
        try db.execute(sql: """
            CREATE TABLE jobs (
                id                INTEGER PRIMARY KEY,
                kind              TEXT NOT NULL,
                arguments         TEXT NOT NULL DEFAULT '{}',
                priority          INTEGER NOT NULL DEFAULT 0,
                state             TEXT NOT NULL CHECK (state IN ('queued', 'running', 'succeeded', 'failed', 'cancelled')),
                unique_key        TEXT,
                run_at            REAL NOT NULL,
                attempts          INTEGER NOT NULL DEFAULT 0,
                max_attempts      INTEGER NOT NULL DEFAULT 5,
                lease_owner       TEXT,
                lease_expires_at  REAL,
                heartbeat_at      REAL,
                cancel_requested  INTEGER NOT NULL DEFAULT 0,
                progress          INTEGER NOT NULL DEFAULT 0,
                progress_note     TEXT,
                last_error        TEXT,
                requested_by      TEXT NOT NULL,
                created_at        REAL NOT NULL,
                started_at        REAL,
                finished_at       REAL
            );
            -- What a worker claims next: the partial index holds only waiting jobs.
            CREATE INDEX jobs_ready ON jobs(priority DESC, run_at, id) WHERE state = 'queued';
            -- Leases to check for expiry.
            CREATE INDEX jobs_leases ON jobs(lease_expires_at) WHERE state = 'running';
            -- A unique key names at most one waiting or running job.
            CREATE UNIQUE INDEX jobs_unique_active ON jobs(unique_key)
                WHERE unique_key IS NOT NULL AND state IN ('queued', 'running');

            CREATE TABLE job_outputs (
                id          INTEGER PRIMARY KEY,
                job_id      INTEGER NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
                name        TEXT NOT NULL,
                path        TEXT NOT NULL,
                media_type  TEXT NOT NULL,
                size        INTEGER NOT NULL,
                sha256      BLOB NOT NULL,
                created_at  REAL NOT NULL
            );
            CREATE INDEX job_outputs_job ON job_outputs(job_id);
            """)
    }

    /// Each outbox message's delivery (state, attempts, the relay's answer) and the link secret
    /// it holds until handover; a signing key's rotation (`MigrationSQL.v5`).
    private static func addMailDeliveryAndKeyRotation(_ db: Database) throws {
        try db.execute(sql: MigrationSQL.v5(real: "REAL", integer: "INTEGER"))
    }

    /// Audit archives, and a delete guard that lets archived rows go (`MigrationSQL.v6AuditArchives`).
    private static func addAuditArchives(_ db: Database) throws {
        try db.execute(sql: MigrationSQL.v6AuditArchives(real: "REAL", integer: "INTEGER", blob: "BLOB", identity: "INTEGER PRIMARY KEY") + """
            CREATE TRIGGER audit_archives_no_update BEFORE UPDATE ON audit_archives
                BEGIN SELECT RAISE(ABORT, 'audit_archives is append-only'); END;
            CREATE TRIGGER audit_archives_no_delete BEFORE DELETE ON audit_archives
                BEGIN SELECT RAISE(ABORT, 'audit_archives is append-only'); END;
            DROP TRIGGER audit_events_no_delete;
            CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events
                WHEN OLD.seq > (SELECT coalesce(max(last_seq), 0) FROM audit_archives)
                BEGIN SELECT RAISE(ABORT, 'audit_events is append-only'); END;
            """)
    }

    /// The audit log's per-minute rollup and the index over its problems (`MigrationSQL.v7AuditMinutes`).
    private static func addAuditMinutes(_ db: Database) throws {
        try db.execute(sql: MigrationSQL.v7AuditMinutes(integer: "INTEGER", withoutRowID: " WITHOUT ROWID", dialect: .sqlite))
    }
}
