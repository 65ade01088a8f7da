import Foundation
import GatehouseCore
@_exported import ConfigFiles
import TOMLKit

/// `serve --config FILE` (and `worker --config FILE`): the `[server]`, `[rate_limits]`, `[http]`
/// `[mail]` (`MailConfigTable`) and `[keys]` (`file`: the signing-key file) tables of a TOML file.
///
///     [server]
///     host = "127.0.0.1"
///     port = 8080
///     cookie_name = "myapp_session"
///     insecure_cookies = false
///     trust_proxy = false
///     dev = false
///     refresh_reuse_grace = 10  # seconds (0–60)
///
///     [rate_limits]
///     refresh = "100/minute"
///
///     [http]
///     header_timeout = 10       # seconds; see HTTPLimits for each
///     body_timeout = 30
///     idle_timeout = 75
///     send_timeout = 30
///     max_connections = 1024
///     max_request_line_bytes = 8192
///     max_header_bytes = 65536
///
/// Unknown tables and keys are errors, not silently ignored: a typo must not leave a limit
/// at its default unnoticed. The webhook secret is not read from here (flag or environment).
public struct ServerConfigFile: Sendable, Equatable, TOMLConfigFile {
    public var host: String?
    public var port: Int?
    public var dev: Bool?
    public var insecureCookies: Bool?
    public var cookieName: String?
    public var trustProxy: Bool?
    public var refreshReuseGrace: Double?
    /// `name = "rate"` pairs in file order, validated.
    public var rateLimits: [(name: String, rate: String)] = []
    /// The `[http]` table over the defaults, when the file has one.
    public var http: HTTPLimits?
    public var mail = MailConfigTable()
    /// `[keys] file`: the signing-key file (relative paths are relative to the config file).
    public var signingKeyFile: String?
    /// `[audit]`: signed checkpoints of the audit chain.
    public var checkpoints = CheckpointSettings()
    /// `[retention]`: what is removed after how long, on a schedule.
    public var retention = RetentionSettings()

    public static func == (lhs: Self, rhs: Self) -> Bool {
        lhs.host == rhs.host && lhs.port == rhs.port && lhs.dev == rhs.dev && lhs.insecureCookies == rhs.insecureCookies
            && lhs.cookieName == rhs.cookieName && lhs.trustProxy == rhs.trustProxy && lhs.refreshReuseGrace == rhs.refreshReuseGrace
            && lhs.rateLimits.map(\.name) == rhs.rateLimits.map(\.name) && lhs.rateLimits.map(\.rate) == rhs.rateLimits.map(\.rate)
            && lhs.http == rhs.http && lhs.mail == rhs.mail && lhs.signingKeyFile == rhs.signingKeyFile && lhs.checkpoints == rhs.checkpoints && lhs.retention == rhs.retention
    }

    public init() {}

    public static func parse(_ document: TOMLDocument) throws(ConfigFileError) -> ServerConfigFile {
        let root = document.root
        func fail(_ section: String, _ key: String?, _ message: String) -> ConfigFileError { document.error(section, key, message) }
        func require<T>(_ value: T?, _ section: String, _ key: String, _ message: String) throws(ConfigFileError) -> T {
            guard let value else { throw fail(section, key, message) }
            return value
        }
        var config = ServerConfigFile()
        for section in root.keys {
            let table = try document.table(section)
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
                    case "refresh_reuse_grace":
                        let range = GatehouseConfiguration.refreshReuseGraceRange
                        guard let seconds = value.double ?? value.int.map(Double.init), range.contains(seconds) else {
                            throw fail(section, key, "refresh_reuse_grace must be a number of seconds, \(Int(range.lowerBound))–\(Int(range.upperBound))")
                        }
                        config.refreshReuseGrace = seconds
                    case "webhook_secret":
                        throw fail(section, key, "put the webhook secret in GATEHOUSE_WEBHOOK_SECRET or --webhook-secret, not in a config file")
                    default:
                        throw fail(section, key, "unknown key '\(key)' in [server] (host, port, dev, insecure_cookies, trust_proxy, cookie_name, refresh_reuse_grace)")
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
            case "http":
                var limits = HTTPLimits()
                for key in table.keys {
                    let value = table[key]!
                    func seconds() throws(ConfigFileError) -> Double {
                        guard let number = value.double ?? value.int.map(Double.init), HTTPLimits.timeoutRange.contains(number) else {
                            throw fail(section, key, "\(key) must be a number of seconds, \(HTTPLimits.timeoutRange.lowerBound)–\(Int(HTTPLimits.timeoutRange.upperBound))")
                        }
                        return number
                    }
                    func count(_ range: ClosedRange<Int>) throws(ConfigFileError) -> Int {
                        guard let number = value.int, range.contains(number) else {
                            throw fail(section, key, "\(key) must be an integer \(range.lowerBound)–\(range.upperBound)")
                        }
                        return number
                    }
                    switch key {
                    case "header_timeout": limits.headerTimeout = try seconds()
                    case "body_timeout": limits.bodyTimeout = try seconds()
                    case "idle_timeout": limits.idleTimeout = try seconds()
                    case "send_timeout": limits.sendTimeout = try seconds()
                    case "max_connections": limits.maxConnections = try count(HTTPLimits.connectionRange)
                    case "max_request_line_bytes": limits.maxRequestLineBytes = try count(HTTPLimits.requestLineRange)
                    case "max_header_bytes": limits.maxHeaderBytes = try count(HTTPLimits.headerBytesRange)
                    default:
                        throw fail(section, key, "unknown key '\(key)' in [http] (header_timeout, body_timeout, idle_timeout, send_timeout, max_connections, max_request_line_bytes, max_header_bytes)")
                    }
                }
                config.http = limits
            case "mail":
                config.mail = try MailConfigTable.parse(table, in: document)
            case "audit":
                config.checkpoints = try CheckpointSettings.parse(table, in: document)
            case "retention":
                config.retention = try RetentionSettings.parse(table, in: document)
            case "keys":
                for key in table.keys {
                    guard key == "file" else { throw fail(section, key, "unknown key '\(key)' in [keys] (file)") }
                    guard let path = table[key]?.string, !path.isEmpty else { throw fail(section, key, "file must be a path") }
                    config.signingKeyFile = path.hasPrefix("/") ? path
                        : URL(fileURLWithPath: document.path).deletingLastPathComponent().appendingPathComponent(path).path
                }
            default:
                throw fail("", section, "unknown table [\(section)] (server, rate_limits, http, mail, keys, audit, retention)")
            }
        }
        return config
    }
}
