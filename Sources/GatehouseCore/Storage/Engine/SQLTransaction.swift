import Foundation

/// The seam between the business rules and the engines (docs/engines.md): one transaction on
/// SQLite or PostgreSQL. Statements are synchronous inside it, on the thread that holds the
/// connection; SQL is written once, with `?` placeholders in order (or `?N` numbered), and the
/// dialect renders it (`$1, $2, …` on PostgreSQL). Where the two engines' SQL differs, the
/// difference is a function of `SQLDialect` (one place), never an `if` in a rule.
public protocol SQLTransaction {
    var dialect: SQLDialect { get }
    /// Runs a statement; returns how many rows it inserted, updated or deleted.
    @discardableResult
    func execute(_ sql: String, _ arguments: SQLArguments) throws -> Int
    func fetchAll(_ sql: String, _ arguments: SQLArguments) throws -> [SQLRow]
    /// The first row (SQLite reads no further).
    func fetchOne(_ sql: String, _ arguments: SQLArguments) throws -> SQLRow?
    /// Runs `work` in this transaction just before it commits, after the body (in the order
    /// given). For work that takes a lock every transaction takes: taken last, such a lock is
    /// never held while waiting for a row lock, so it cannot join a deadlock (the audit chain's
    /// lock on PostgreSQL). SQLite, whose write transaction holds the whole database, runs it at once.
    func beforeCommit(_ work: @escaping (any SQLTransaction) throws -> Void) throws
}

extension SQLTransaction {
    @discardableResult
    public func execute(_ sql: String) throws -> Int { try execute(sql, []) }
    public func fetchAll(_ sql: String) throws -> [SQLRow] { try fetchAll(sql, []) }
    public func fetchOne(_ sql: String) throws -> SQLRow? { try fetchOne(sql, []) }

    /// Rows decoded as records.
    public func fetchAll<Record: SQLRecord>(_ type: Record.Type, _ sql: String, _ arguments: SQLArguments = []) throws -> [Record] {
        try fetchAll(sql, arguments).map(Record.init(row:))
    }

    /// The first row decoded as a record, or nil.
    public func fetchOne<Record: SQLRecord>(_ type: Record.Type, _ sql: String, _ arguments: SQLArguments = []) throws -> Record? {
        try fetchOne(sql, arguments).map(Record.init(row:))
    }

    /// The first column of the first row; nil when there is no row or the value is NULL.
    public func fetchScalar<Value: SQLValueDecodable>(_ type: Value.Type, _ sql: String, _ arguments: SQLArguments = []) throws -> Value? {
        guard let row = try fetchOne(sql, arguments), row[0] != .null else { return nil }
        return try row.decode(0)
    }

    /// The first column of every row (NULLs skipped).
    public func fetchColumn<Value: SQLValueDecodable>(_ type: Value.Type, _ sql: String, _ arguments: SQLArguments = []) throws -> [Value] {
        try fetchAll(sql, arguments).compactMap { row in row[0] == .null ? nil : try row.decode(0) as Value }
    }
}

/// A type read from a row: `init(row:)` names its columns (`row.decode("id")`).
public protocol SQLRecord {
    init(row: SQLRow) throws
}

/// A value bound to, or read from, a statement: the same on both engines.
public enum SQLValue: Sendable, Hashable {
    case null
    case int(Int64)
    case double(Double)
    case text(String)
    case blob(Data)

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

/// The arguments of one statement, written as an array literal of Swift values
/// (`[hash.bytes, family, now.unixSeconds, nil]`) the way GRDB's `StatementArguments` are.
public struct SQLArguments: Sendable, ExpressibleByArrayLiteral {
    public var values: [SQLValue]

    public init(_ values: [SQLValue]) { self.values = values }
    public init(arrayLiteral elements: (any SQLValueConvertible)?...) {
        values = elements.map { $0?.sqlValue ?? .null }
    }

    public mutating func append(_ value: (any SQLValueConvertible)?) { values.append(value?.sqlValue ?? .null) }
    public mutating func append(contentsOf other: SQLArguments) { values += other.values }
    public static func + (lhs: SQLArguments, rhs: SQLArguments) -> SQLArguments { SQLArguments(lhs.values + rhs.values) }
}

/// A Swift value that binds to a statement.
public protocol SQLValueConvertible: Sendable {
    var sqlValue: SQLValue { get }
}

/// A Swift value read from a column. Decoding a value of the wrong type throws
/// `SQLDecodingError` naming the column; optionals read NULL as nil.
public protocol SQLValueDecodable {
    static func decode(_ value: SQLValue) -> Self?
}

extension SQLValue: SQLValueConvertible, SQLValueDecodable {
    public var sqlValue: SQLValue { self }
    public static func decode(_ value: SQLValue) -> SQLValue? { value }
}

extension String: SQLValueConvertible, SQLValueDecodable {
    public var sqlValue: SQLValue { .text(self) }
    public static func decode(_ value: SQLValue) -> String? { value.text }
}

extension Int64: SQLValueConvertible, SQLValueDecodable {
    public var sqlValue: SQLValue { .int(self) }
    public static func decode(_ value: SQLValue) -> Int64? { value.int }
}

extension Int: SQLValueConvertible, SQLValueDecodable {
    public var sqlValue: SQLValue { .int(Int64(self)) }
    public static func decode(_ value: SQLValue) -> Int? { value.int.flatMap { Int(exactly: $0) } }
}

extension Double: SQLValueConvertible, SQLValueDecodable {
    public var sqlValue: SQLValue { .double(self) }
    public static func decode(_ value: SQLValue) -> Double? { value.double }
}

extension Bool: SQLValueConvertible, SQLValueDecodable {
    /// Stored as 0 or 1 on both engines (integer columns), so SQL compares it the same way.
    public var sqlValue: SQLValue { .int(self ? 1 : 0) }
    public static func decode(_ value: SQLValue) -> Bool? { value.int.map { $0 != 0 } }
}

extension Data: SQLValueConvertible, SQLValueDecodable {
    public var sqlValue: SQLValue { .blob(self) }
    public static func decode(_ value: SQLValue) -> Data? {
        if case .blob(let data) = value { return data }
        return nil
    }
}

extension Date: SQLValueConvertible, SQLValueDecodable {
    /// Unix seconds (`REAL` / `double precision`): the stored form of every time.
    public var sqlValue: SQLValue { .double(timeIntervalSince1970) }
    public static func decode(_ value: SQLValue) -> Date? { value.double.map(Date.init(timeIntervalSince1970:)) }
}

extension Optional: SQLValueDecodable where Wrapped: SQLValueDecodable {
    public static func decode(_ value: SQLValue) -> Wrapped?? {
        if value == .null { return .some(nil) }
        return Wrapped.decode(value).map { .some($0) }
    }
}

extension RawRepresentable where RawValue == String, Self: SQLValueConvertible {
    public var sqlValue: SQLValue { .text(rawValue) }
}

extension RawRepresentable where RawValue == String, Self: SQLValueDecodable {
    public static func decode(_ value: SQLValue) -> Self? { value.text.flatMap(Self.init(rawValue:)) }
}

/// A column held a value of another type than the code reads (or was missing): the schema and
/// the code disagree, which is a bug, reported with the column's name rather than a crash.
public struct SQLDecodingError: Error, CustomStringConvertible {
    public var column: String
    public var expected: String
    public var found: SQLValue
    public var description: String { "column \(column): expected \(expected), found \(found)" }
}

/// The column names of one result, shared by its rows; looked up case-insensitively (PostgreSQL
/// folds unquoted names to lower case), the first column of a name winning as in GRDB.
public final class SQLColumns: Sendable {
    public let names: [String]
    private let lengths: [Int]

    /// Cheap: one is made per statement run, single-row reads included, so nothing is
    /// lower-cased or hashed here.
    public init(_ names: [String]) {
        self.names = names
        lengths = names.map(\.utf8.count)
    }

    /// The first column called `name`, ignoring case. Rows are decoded by name, a dozen
    /// lookups a row: a scan that compares lengths first (two integers) and then the few names
    /// of that length costs less than hashing the name. Only a name spelt in another case
    /// than the column's pays for lower-casing.
    public func position(of name: String) -> Int? {
        let length = name.utf8.count
        for position in lengths.indices where lengths[position] == length && names[position] == name { return position }
        let lowered = name.lowercased()
        return names.firstIndex { $0.utf8.count == length && $0.lowercased() == lowered }
    }
}

/// One result row: values by position or by column name.
public struct SQLRow: Sendable {
    public let columns: SQLColumns
    public var values: [SQLValue]

    public init(columns: SQLColumns, values: [SQLValue]) {
        self.columns = columns
        self.values = values
    }

    public subscript(_ index: Int) -> SQLValue { index < values.count ? values[index] : .null }
    /// The value of the column `name`; `.null` when the result has no such column.
    public subscript(_ name: String) -> SQLValue { columns.position(of: name).map { values[$0] } ?? .null }

    /// The column `name` as `Value`.
    /// - Throws: `SQLDecodingError` when the column is missing or holds another type.
    public func decode<Value: SQLValueDecodable>(_ name: String, as type: Value.Type = Value.self) throws -> Value {
        guard let position = columns.position(of: name) else {
            throw SQLDecodingError(column: name, expected: "\(Value.self)", found: .null)
        }
        guard let value = Value.decode(values[position]) else {
            throw SQLDecodingError(column: name, expected: "\(Value.self)", found: values[position])
        }
        return value
    }

    /// The column at `index` as `Value`.
    public func decode<Value: SQLValueDecodable>(_ index: Int, as type: Value.Type = Value.self) throws -> Value {
        guard let value = Value.decode(self[index]) else {
            throw SQLDecodingError(column: index < columns.names.count ? columns.names[index] : "#\(index)",
                                   expected: "\(Value.self)", found: self[index])
        }
        return value
    }
}

extension SQLRow: Equatable {
    public static func == (lhs: SQLRow, rhs: SQLRow) -> Bool { lhs.values == rhs.values }
}
