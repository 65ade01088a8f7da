import Foundation
import GRDB
import Synchronization

/// One column of a listing's key: most listings page by integer ids, rate-limit buckets by
/// their blocked count and text key. Compares the way SQLite orders mixed values (integers
/// before text), so the console's "is this row newer" test agrees with the query's order.
public enum PageKeyPart: Sendable, Hashable, Comparable {
    case int(Int64)
    case text(String)

    public static func < (lhs: PageKeyPart, rhs: PageKeyPart) -> Bool {
        switch (lhs, rhs) {
        case (.int(let a), .int(let b)): a < b
        case (.text(let a), .text(let b)): a < b
        case (.int, .text): true
        case (.text, .int): false
        }
    }

    var sqlValue: SQLValue {
        switch self {
        case .int(let value): .int(value)
        case .text(let value): .text(value)
        }
    }
}

extension PageKeyPart: ExpressibleByIntegerLiteral {
    public init(integerLiteral value: Int64) { self = .int(value) }
}

/// The key of a row in a listing, most significant column first.
public typealias PageKey = [PageKeyPart]

/// Which window of a newest-first listing to read. Listings page by keyset (the key of a row,
/// never OFFSET), so the millionth row costs what the first does.
public enum Page: Sendable, Equatable {
    /// The newest rows.
    case first
    /// Rows from this key on (inclusive), towards older ones: re-reads a window in place.
    case from(PageKey)
    /// Rows older than this key: the next page down.
    case after(PageKey)
    /// The rows just newer than this key, still returned newest first: the page up.
    case before(PageKey)
    /// The oldest rows, returned newest first: the bottom of the list.
    case last
}

/// Builds the keyset condition and order for a `Page` over key columns that sort descending.
struct Keyset {
    /// SQL expressions forming the key, most significant first (e.g. `["s.id"]`).
    var columns: [String]

    struct Clause {
        var condition: String?
        var arguments: [SQLValue]
        var orderBy: String
        /// True when the query reads ascending and the caller must reverse the rows.
        var reversed: Bool
    }

    func clause(for page: Page) -> Clause {
        let key = "(" + columns.joined(separator: ", ") + ")"
        let descending = columns.map { "\($0) DESC" }.joined(separator: ", ")
        let ascending = columns.map { "\($0) ASC" }.joined(separator: ", ")
        func placeholders(_ values: PageKey) -> String { "(" + values.map { _ in "?" }.joined(separator: ", ") + ")" }
        switch page {
        case .first: return Clause(condition: nil, arguments: [], orderBy: descending, reversed: false)
        case .from(let cursor): return Clause(condition: "\(key) <= \(placeholders(cursor))", arguments: cursor.map(\.sqlValue), orderBy: descending, reversed: false)
        case .after(let cursor): return Clause(condition: "\(key) < \(placeholders(cursor))", arguments: cursor.map(\.sqlValue), orderBy: descending, reversed: false)
        case .before(let cursor): return Clause(condition: "\(key) > \(placeholders(cursor))", arguments: cursor.map(\.sqlValue), orderBy: ascending, reversed: true)
        case .last: return Clause(condition: nil, arguments: [], orderBy: ascending, reversed: true)
        }
    }
}

/// A listing's conditions, added one by one, and the keyset page it reads: the part every
/// operator listing (sessions, tokens) shares.
struct ListQuery {
    private var conditions: [String] = []
    private var arguments = SQLArguments([])
    /// The engine the conditions are written for (a text filter is spelled per engine).
    let dialect: SQLDialect

    init(dialect: SQLDialect) { self.dialect = dialect }

    /// Adds `sql` (with `?` placeholders for `values`) to the conditions.
    mutating func require(_ sql: String, _ values: (any SQLValueConvertible)?...) {
        conditions.append(sql)
        for value in values { arguments.append(value) }
    }

    /// Adds `sql` with a list of values for its placeholders.
    mutating func require(_ sql: String, _ values: [any SQLValueConvertible]) {
        conditions.append(sql)
        for value in values { arguments.append(value) }
    }

    /// Adds a text filter matched against `haystack`, when there is one.
    mutating func match(_ filter: TextFilter?, in haystack: String) {
        guard let filter else { return }
        let condition = filter.condition(haystack: haystack, dialect: dialect)
        require(condition.sql, condition.argument)
    }

    /// Reads `limit` rows of `page`, newest first: `select` is everything up to the WHERE clause,
    /// `keyColumns` the key that orders the listing (descending).
    func fetch<Row: SQLRecord & Sendable>(_ type: Row.Type, select: String, keyColumns: [String], page: Page, limit: Int,
                                          from database: GatehouseDatabase) async throws -> [Row] {
        var query = self
        let keyset = Keyset(columns: keyColumns).clause(for: page)
        if let condition = keyset.condition { query.conditions.append(condition); query.arguments.append(contentsOf: SQLArguments(keyset.arguments)) }
        query.arguments.append(limit)
        let whereClause = query.conditions.isEmpty ? "" : "WHERE " + query.conditions.joined(separator: " AND ")
        let sql = "\(select) \(whereClause) ORDER BY \(keyset.orderBy) LIMIT ?"
        let arguments = query.arguments
        let rows = try await database.read { tx in try tx.fetchAll(Row.self, sql, arguments) }
        return keyset.reversed ? rows.reversed() : rows
    }
}

/// A free-text filter as operators type it: a case-insensitive regular expression (plain text
/// is a regular expression too), optionally inverted with a leading `!`.
public struct TextFilter: Sendable, Equatable {
    public var pattern: String
    public var inverted: Bool

    public init(pattern: String, inverted: Bool = false) {
        self.pattern = pattern
        self.inverted = inverted
    }

    /// Parses what follows `/`: `!text` inverts. Nil for an empty filter.
    public init?(typed: String) {
        var text = typed
        let inverted = text.hasPrefix("!")
        if inverted { text.removeFirst() }
        guard !text.isEmpty else { return nil }
        self.init(pattern: text, inverted: inverted)
    }

    /// Why the pattern is not a valid regular expression, or nil when it is.
    public var problem: String? {
        do {
            _ = try NSRegularExpression(pattern: pattern)
            return nil
        } catch {
            return "not a valid regular expression: \(pattern)"
        }
    }

    /// True when the pattern has no regular-expression syntax, so a substring test says the same.
    var isLiteral: Bool { !pattern.contains(where: { "\\^$.|?*+()[]{}".contains($0) }) }

    /// The SQL condition matching `haystack` (an SQL expression) against this filter. Plain text
    /// is a substring test (several times faster on a full scan than a regex per row). A NULL
    /// haystack matches neither way, on both engines.
    func condition(haystack: String, dialect: SQLDialect) -> (sql: String, argument: String) {
        let test = isLiteral ? dialect.containsText(haystack) : dialect.matchesRegex(haystack)
        return (inverted ? "NOT (\(test))" : "(\(test))", isLiteral ? pattern.lowercased() : dialect.regexPattern(pattern))
    }
}

/// The SQL function `gatehouse_match(pattern, text)`, registered on every connection.
enum TextMatchFunction {
    private static let cache = RegexCache()

    static let function = DatabaseFunction("gatehouse_match", argumentCount: 2, pure: true) { values in
        guard let pattern = String.fromDatabaseValue(values[0].databaseValue) else { return false }
        let text = String.fromDatabaseValue(values[1].databaseValue) ?? ""
        return cache.matches(pattern: pattern, text: text)
    }

    final class RegexCache: Sendable {
        private let compiled = Mutex<[String: NSRegularExpression?]>([:])

        func matches(pattern: String, text: String) -> Bool {
            let regex = compiled.withLock { cache -> NSRegularExpression? in
                if let hit = cache[pattern] { return hit }
                let made = try? NSRegularExpression(pattern: pattern, options: [.caseInsensitive])
                if cache.count > 64 { cache.removeAll() }
                cache[pattern] = made
                return made
            }
            guard let regex else { return text.range(of: pattern, options: .caseInsensitive) != nil }
            return regex.firstMatch(in: text, range: NSRange(text.startIndex..., in: text)) != nil
        }
    }
}
