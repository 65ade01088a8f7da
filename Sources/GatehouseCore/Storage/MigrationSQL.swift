/// Migrations whose SQL is the same on both engines but for column types: written once here,
/// used by `Schema` (SQLite) and `PostgresSchema`. Released text is never edited.
enum MigrationSQL {
    /// v5: mail delivery and signing-key rotation.
    ///
    /// `outbox.delivery`: `stored` (the development sink: nothing is sent), `queued`, `sent`
    /// (handed to sendmail), `deferred` (a temporary failure; retried), `failed`.
    /// `outbox.link_secret` holds the link's token while the mail waits to be handed over; at
    /// handover (or final failure) it is cleared and the body's copy replaced by a fingerprint.
    /// `signing_keys.superseded_at`: when a rotation made another key current;
    /// `published_until`: the JWKS lists the key until then (every token it signed has expired);
    /// `public_key_pem`: what verifies its tokens, so that a key whose private half lives in a
    /// key file (`private_key_pem` empty), or was wiped at rotation, still verifies.
    static func v5(real: String, integer: String) -> String {
        """
        ALTER TABLE outbox ADD COLUMN sender TEXT;
        ALTER TABLE outbox ADD COLUMN magic_link_id \(integer) REFERENCES magic_links(id) ON DELETE SET NULL;
        ALTER TABLE outbox ADD COLUMN link_secret TEXT;
        ALTER TABLE outbox ADD COLUMN delivery TEXT NOT NULL DEFAULT 'stored'
            CHECK (delivery IN ('stored', 'queued', 'sent', 'deferred', 'failed'));
        ALTER TABLE outbox ADD COLUMN attempts \(integer) NOT NULL DEFAULT 0;
        ALTER TABLE outbox ADD COLUMN delivery_note TEXT;
        ALTER TABLE outbox ADD COLUMN delivery_updated_at \(real);
        CREATE INDEX outbox_magic_link ON outbox(magic_link_id);
        CREATE INDEX outbox_recipient ON outbox(recipient, id);
        ALTER TABLE signing_keys ADD COLUMN superseded_at \(real);
        ALTER TABLE signing_keys ADD COLUMN published_until \(real);
        ALTER TABLE signing_keys ADD COLUMN public_key_pem TEXT;
        """
    }

    /// v6: audit archives. One row per archive file, append-only like the log; rows of
    /// `audit_events` up to the newest archive's `last_seq` may be deleted (by the archiver,
    /// once the file verified), no other. Also the index retention's cascade needs: deleting a
    /// session's refresh tokens checks each for children by `parent_id`.
    static func v6AuditArchives(real: String, integer: String, blob: String, identity: String) -> String {
        """
        CREATE INDEX refresh_tokens_parent ON refresh_tokens(parent_id);
        CREATE TABLE audit_archives (
            id          \(identity),
            first_seq   \(integer) NOT NULL UNIQUE,
            last_seq    \(integer) NOT NULL,
            last_hash   \(blob) NOT NULL,
            file        TEXT NOT NULL,
            sha256      \(blob) NOT NULL,
            row_count   \(integer) NOT NULL,
            created_at  \(real) NOT NULL
        );
        """
    }

    /// v7: the audit log's per-minute rollup (`AuditMinutes`; `shard` 0 for recorded events, 1…8
    /// for those the audit throttle left out), filled from the last two days of
    /// events, and a partial index over the events that did not succeed (the Pulse pane's top
    /// offenders read the last minutes of those, however many successes surround them).
    /// `withoutRowID` is SQLite's clause for a table stored by its primary key ("" elsewhere).
    static func v7AuditMinutes(integer: String, withoutRowID: String, dialect: SQLDialect) -> String {
        """
        CREATE TABLE audit_minutes (
            minute      \(integer) NOT NULL,
            action      TEXT NOT NULL,
            reason      TEXT NOT NULL,
            shard       \(integer) NOT NULL,
            count       \(integer) NOT NULL,
            unrecorded  \(integer) NOT NULL DEFAULT 0,
            first_seq   \(integer),
            last_seq    \(integer),
            PRIMARY KEY (minute, action, reason, shard)
        )\(withoutRowID);
        CREATE INDEX audit_events_problems ON audit_events(seq) WHERE outcome <> 'success';
        \(AuditMinutes.rebuildSQL(dialect: dialect, since: "\(dialect.currentUnixMinute) - \(AuditMinutes.keptMinutes)"));
        """
    }
}
