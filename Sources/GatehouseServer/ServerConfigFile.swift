import Foundation
import GatehouseCore
import TOMLKit

/// A mistake in a config file, located: `gatehouse.toml:7: port must be an integer 0–65535`.
public struct ConfigFileError: Error, Equatable, CustomStringConvertible {
    public var path: String
    public var line: Int?
    public var message: String

    public var description: String { "\(path)\(line.map { ":\($0)" } ?? ""): \(message)" }
}

/// `serve --config FILE`: the `[server]` and `[rate_limits]` tables of a TOML file.
///
///     [server]
///     host = "127.0.0.1"
///     port = 8080
///     cookie_name = "myapp_session"
///     insecure_cookies = false
///     trust_proxy = false
///     dev = false
///
///     [rate_limits]
///     refresh = "100/minute"
///
/// Unknown tables and keys are errors, not silently ignored: a typo must not leave a limit
/// at its default unnoticed. The webhook secret is not read from here (flag or environment).
public struct ServerConfigFile: Sendable, Equatable {
    public var host: String?
    public var port: Int?
    public var dev: Bool?
    public var insecureCookies: Bool?
    public var cookieName: String?
    public var trustProxy: Bool?
    /// `name = "rate"` pairs in file order, validated.
    public var rateLimits: [(name: String, rate: String)] = []

    public static func == (lhs: Self, rhs: Self) -> Bool {
        lhs.host == rhs.host && lhs.port == rhs.port && lhs.dev == rhs.dev && lhs.insecureCookies == rhs.insecureCookies
            && lhs.cookieName == rhs.cookieName && lhs.trustProxy == rhs.trustProxy
            && lhs.rateLimits.map(\.name) == rhs.rateLimits.map(\.name) && lhs.rateLimits.map(\.rate) == rhs.rateLimits.map(\.rate)
    }

    public init() {}

    public static func load(path: String) throws(ConfigFileError) -> ServerConfigFile {
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw ConfigFileError(path: path, line: nil, message: "cannot read the file (\(error.localizedDescription))")
        }
        return try parse(text, path: path)
    }

    public static func parse(_ text: String, path: String) throws(ConfigFileError) -> ServerConfigFile {
        let root: TOMLTable
        do {
            root = try TOMLTable(string: text)
        } catch let error as TOMLParseError {
            throw ConfigFileError(path: path, line: error.source.begin.line, message: error.description)
        } catch {
            throw ConfigFileError(path: path, line: nil, message: "\(error)")
        }
        func fail(_ section: String, _ key: String?, _ message: String) -> ConfigFileError {
            ConfigFileError(path: path, line: line(of: key, in: section, text: text), message: message)
        }
        func require<T>(_ value: T?, _ section: String, _ key: String, _ message: String) throws(ConfigFileError) -> T {
            guard let value else { throw fail(section, key, message) }
            return value
        }
        var config = ServerConfigFile()
        for section in root.keys {
            guard let table = root[section]?.table else { throw fail("", section, "'\(section)' must be a table ([\(section)])") }
            switch section {
            case "server":
                for key in table.keys {
                    let value = table[key]!
                    switch key {
                    case "host": config.host = try require(value.string, section, key, "host must be a string")
                    case "port":
                        guard let port = value.int, (0...65535).contains(port) else { throw fail(section, key, "port must be an integer 0–65535") }
                        config.port = port
                    case "dev": config.dev = try require(value.bool, section, key, "dev must be true or false")
                    case "insecure_cookies":
                        config.insecureCookies = try require(value.bool, section, key, "insecure_cookies must be true or false")
                    case "trust_proxy": config.trustProxy = try require(value.bool, section, key, "trust_proxy must be true or false")
                    case "cookie_name": config.cookieName = try require(value.string, section, key, "cookie_name must be a string")
                    case "webhook_secret":
                        throw fail(section, key, "put the webhook secret in GATEHOUSE_WEBHOOK_SECRET or --webhook-secret, not in a config file")
                    default:
                        throw fail(section, key, "unknown key '\(key)' in [server] (host, port, dev, insecure_cookies, trust_proxy, cookie_name)")
                    }
                }
            case "rate_limits":
                for key in table.keys {
                    guard let rate = table[key]?.string else { throw fail(section, key, "\(key) must be a string such as \"100/minute\"") }
                    var probe = RateLimitPolicies()
                    do {
                        try probe.override(key, rate: rate)
                    } catch {
                        throw fail(section, key, error.description)
                    }
                    config.rateLimits.append((key, rate))
                }
            default:
                throw fail("", section, "unknown table [\(section)] (server, rate_limits)")
            }
        }
        return config
    }

    /// TOMLKit keeps no positions for values, so the line of `key` is found in the text: the
    /// first `key =` after the `[section]` header (or a `[key]` header for a whole table).
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
