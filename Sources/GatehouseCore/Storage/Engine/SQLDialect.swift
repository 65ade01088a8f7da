/// Where the two engines' SQL differs, in one place (docs/engines.md has the table). Rules
/// write their SQL once and call these for the few expressions that are spelled differently.
public enum SQLDialect: Sendable, Equatable {
    case sqlite, postgres

    /// `sql` as this engine reads it. PostgreSQL: each `?` becomes `$n` in order and `?N`
    /// becomes `$N`; quoted text ('…', "…") is left alone.
    public func render(_ sql: String) -> String {
        guard self == .postgres else { return sql }
        var out = ""
        out.reserveCapacity(sql.utf8.count + 8)
        var next = 1
        var quote: Character?
        var index = sql.startIndex
        while index < sql.endIndex {
            let character = sql[index]
            if let open = quote {
                if character == open { quote = nil }
                out.append(character)
            } else if character == "'" || character == "\"" {
                quote = character
                out.append(character)
            } else if character == "?" {
                var digits = ""
                var after = sql.index(after: index)
                while after < sql.endIndex, sql[after].isASCII, sql[after].isNumber {
                    digits.append(sql[after])
                    after = sql.index(after: after)
                }
                if digits.isEmpty {
                    out += "$\(next)"
                    next += 1
                } else {
                    out += "$" + digits
                }
                index = after
                continue
            } else {
                out.append(character)
            }
            index = sql.index(after: index)
        }
        return out
    }

    /// The first `bytes` bytes of a blob expression in lower-case hex: a fingerprint in SQL
    /// (SQLite `hex()`, PostgreSQL `encode(…, 'hex')`).
    public func hexPrefix(_ blob: String, bytes: Int) -> String {
        switch self {
        case .sqlite: "lower(hex(substr(\(blob), 1, \(bytes))))"
        case .postgres: "encode(substring(\(blob) from 1 for \(bytes)), 'hex')"
        }
    }

    /// The larger of two numbers (SQLite's two-argument `max`, PostgreSQL's `greatest`).
    public func greatest(_ a: String, _ b: String) -> String {
        switch self {
        case .sqlite: "max(\(a), \(b))"
        case .postgres: "greatest(\(a), \(b))"
        }
    }

    /// The Unix minute of a seconds column, as an integer (`floor(column / 60)`).
    public func unixMinute(_ column: String) -> String {
        switch self {
        case .sqlite: "CAST(\(column) / 60 AS INTEGER)"
        case .postgres: "floor(\(column) / 60)::bigint"
        }
    }

    /// The current Unix minute, as the database's clock has it.
    public var currentUnixMinute: String {
        switch self {
        case .sqlite: "CAST(strftime('%s', 'now') AS INTEGER) / 60"
        case .postgres: "floor(extract(epoch FROM now()) / 60)::bigint"
        }
    }

    /// The text value of `key` in a JSON text column (NULL when absent).
    public func jsonText(_ column: String, key: String) -> String {
        switch self {
        case .sqlite: "json_extract(\(column), '$.\(key)')"
        case .postgres: "(\(column)::jsonb ->> '\(key)')"
        }
    }

    /// True when `haystack` contains the bound, already lower-cased text (one `?`).
    public func containsText(_ haystack: String) -> String {
        switch self {
        case .sqlite: "instr(lower(\(haystack)), ?) > 0"
        case .postgres: "strpos(lower(\(haystack)), ?) > 0"
        }
    }

    /// An operator's regular expression (ICU syntax, as the console and CLI document it) as this
    /// engine reads it: the same text on SQLite; on PostgreSQL, whose AREs spell the word
    /// boundary `\y` (`\b` is a backspace there), `\b` and `\B` become `\y` and `\Y`.
    public func regexPattern(_ pattern: String) -> String {
        guard self == .postgres else { return pattern }
        var out = ""
        var escaped = false
        for character in pattern {
            if escaped {
                out += character == "b" ? "y" : character == "B" ? "Y" : String(character)
                escaped = false
            } else {
                escaped = character == "\\"
                out.append(character)
            }
        }
        return out
    }

    /// True when `haystack` contains the bound text exactly (case-sensitive; one `?`).
    public func containsExactText(_ haystack: String) -> String {
        switch self {
        case .sqlite: "instr(\(haystack), ?) > 0"
        case .postgres: "strpos(\(haystack), ?) > 0"
        }
    }

    /// True when `haystack` matches the bound regular expression (one `?`), ignoring case:
    /// SQLite our `gatehouse_match` function (ICU syntax through NSRegularExpression),
    /// PostgreSQL its `~*` operator (POSIX ARE: the common syntax is the same).
    public func matchesRegex(_ haystack: String) -> String {
        switch self {
        case .sqlite: "gatehouse_match(?, \(haystack))"
        case .postgres: "(\(haystack)) ~* ?"
        }
    }

    /// The row lock a read-modify-write takes on PostgreSQL (`FOR UPDATE`), appended to a
    /// SELECT. SQLite has no row locks and needs none: a write transaction holds the database.
    public var forUpdate: String { self == .postgres ? " FOR UPDATE" : "" }

    /// `FOR UPDATE SKIP LOCKED` on PostgreSQL: a queue's claim passes over rows another
    /// worker is claiming instead of waiting for them (nothing on SQLite, as above).
    public var forUpdateSkipLocked: String { self == .postgres ? " FOR UPDATE SKIP LOCKED" : "" }

    /// A statement that makes transactions using the same `key` wait for each other until
    /// they end (PostgreSQL's transaction-level advisory lock). SQLite: nothing to wait for,
    /// the write transaction already holds the database.
    public func advisoryLock(_ key: Int64) -> String {
        switch self {
        case .sqlite: "SELECT 1"
        case .postgres: "SELECT pg_advisory_xact_lock(\(key))"
        }
    }

    /// A query with one `?` (a table name) answering 1 when the table exists in the current
    /// schema, else 0.
    public var tableExists: String {
        switch self {
        case .sqlite: "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?"
        case .postgres: "SELECT count(*) FROM information_schema.tables WHERE table_schema = current_schema() AND table_name = CAST(? AS text)"
        }
    }

    /// After rows were inserted with explicit ids (bulk loads): PostgreSQL's identity sequence
    /// moves past the highest id so the next ordinary insert does not collide. SQLite's
    /// `INTEGER PRIMARY KEY` takes max + 1 by itself.
    public func followIdentity(of table: String) -> String {
        switch self {
        case .sqlite: "SELECT 1"
        case .postgres: "SELECT setval(pg_get_serial_sequence('\(table)', 'id'), (SELECT coalesce(max(id), 1) FROM \(table)))"
        }
    }
}
