import Foundation
import GatehouseCore
@_exported import ConfigFiles
import TOMLKit

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
public struct ServerConfigFile: Sendable, Equatable, TOMLConfigFile {
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
}
