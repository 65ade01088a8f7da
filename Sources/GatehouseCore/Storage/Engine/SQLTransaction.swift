import Foundation

/// The seam between the business rules and the engines (docs/engines.md): one transaction on
/// SQLite or PostgreSQL. Statements are synchronous inside it, on the thread that holds the
/// connection; SQL is written once, with `?` placeholders in order (or `?N` numbered), and the
/// dialect renders it (`$1, $2, …` on PostgreSQL).
public protocol SQLTransaction {
    var dialect: SQLDialect { get }
    func execute(_ sql: String, _ arguments: [SQLValue]) throws
    func fetchAll(_ sql: String, _ arguments: [SQLValue]) throws -> [SQLRow]
    /// The first row (SQLite reads no further).
    func fetchOne(_ sql: String, _ arguments: [SQLValue]) throws -> SQLRow?
}

/// A value bound to, or read from, a statement: the same on both engines.
public enum SQLValue: Sendable, Equatable {
    case null
    case int(Int64)
    case double(Double)
    case text(String)
    case blob([UInt8])

    public var double: Double? {
        switch self {
        case .double(let value): value
        case .int(let value): Double(value)
        default: nil
        }
    }

    public var int: Int64? {
        switch self {
        case .int(let value): value
        case .double(let value): Int64(exactly: value)
        default: nil
        }
    }

    public var text: String? {
        if case .text(let value) = self { return value }
        return nil
    }
}

/// One result row, by column position.
public struct SQLRow: Sendable, Equatable {
    public var values: [SQLValue]

    public init(_ values: [SQLValue]) { self.values = values }

    public subscript(_ index: Int) -> SQLValue { index < values.count ? values[index] : .null }
}

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
}
