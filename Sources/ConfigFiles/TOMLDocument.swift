import Foundation
import TOMLKit

/// A mistake in a config or theme file, located: `gatehouse.toml:7: port must be an integer 0–65535`.
public struct ConfigFileError: Error, Equatable, CustomStringConvertible {
    public var path: String
    public var line: Int?
    public var message: String

    public init(path: String, line: Int?, message: String) {
        self.path = path
        self.line = line
        self.message = message
    }

    public var description: String { "\(path)\(line.map { ":\($0)" } ?? ""): \(message)" }
}

/// A parsed TOML file that can say on which line a key stands, so that every complaint about
/// a value names `file:line` (TOMLKit keeps no positions for values).
public struct TOMLDocument {
    public let path: String
    public let text: String
    public let root: TOMLTable

    public static func load(path: String) throws(ConfigFileError) -> TOMLDocument {
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw ConfigFileError(path: path, line: nil, message: "cannot read the file (\(error.localizedDescription))")
        }
        return try TOMLDocument(text: text, path: path)
    }

    public init(text: String, path: String) throws(ConfigFileError) {
        self.path = path
        self.text = text
        do {
            root = try TOMLTable(string: text)
        } catch let error as TOMLParseError {
            throw ConfigFileError(path: path, line: error.source.begin.line, message: error.description)
        } catch {
            throw ConfigFileError(path: path, line: nil, message: "\(error)")
        }
    }

    /// An error about `key` of table `section` ("" for the top level), at the key's line.
    public func error(_ section: String, _ key: String?, _ message: String) -> ConfigFileError {
        ConfigFileError(path: path, line: Self.line(of: key, in: section, text: text), message: message)
    }

    /// The tables of the top level by name; anything else there is an error.
    public func table(_ key: String) throws(ConfigFileError) -> TOMLTable {
        guard let table = root[key]?.table else { throw error("", key, "'\(key)' must be a table ([\(key)])") }
        return table
    }

    /// The keys of `table` (named `section`) in the order the file has them (TOMLKit sorts them),
    /// so that "already given to …" names the earlier line.
    public func keysInFileOrder(_ table: TOMLTable, section: String) -> [String] {
        table.keys.sorted { (Self.line(of: $0, in: section, text: text) ?? 0) < (Self.line(of: $1, in: section, text: text) ?? 0) }
    }

    /// The first `key =` after the `[section]` header (or a `[key]` header for a whole table).
    static func line(of key: String?, in section: String, text: String) -> Int? {
        guard let key else { return nil }
        var current = ""
        for (index, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.hasPrefix("[") {
                current = line.trimmingCharacters(in: ["[", "]", " "])
                if section.isEmpty && current == key { return index + 1 }
                continue
            }
            let name = line.split(separator: "=", maxSplits: 1).first?.trimmingCharacters(in: .whitespaces)
                .trimmingCharacters(in: ["\"", "'"])
            if current == section, name == key { return index + 1 }
        }
        return nil
    }
}

/// A config file read from TOML: conformers say how a parsed document becomes a value; loading
/// from a path and parsing text (both with `file:line` errors) come with it.
public protocol TOMLConfigFile {
    static func parse(_ document: TOMLDocument) throws(ConfigFileError) -> Self
}

extension TOMLConfigFile {
    public static func load(path: String) throws(ConfigFileError) -> Self {
        try parse(TOMLDocument.load(path: path))
    }

    public static func parse(_ text: String, path: String) throws(ConfigFileError) -> Self {
        try parse(TOMLDocument(text: text, path: path))
    }
}
