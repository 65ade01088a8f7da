import Foundation

/// What `--db` (or `$GATEHOUSE_DB`, or a config file) names: an SQLite file, or a PostgreSQL
/// server by URL.
public enum DatabaseLocation: Sendable, Equatable, CustomStringConvertible {
    case sqlite(path: String)
    case postgres(PostgresLocation)

    /// A `postgres://` or `postgresql://` URL is PostgreSQL; anything else is a file path.
    /// - Throws: `DatabaseLocationError` for a PostgreSQL URL libpq would not accept.
    public init(_ text: String, environment: [String: String] = ProcessInfo.processInfo.environment) throws(DatabaseLocationError) {
        let lowered = text.lowercased()
        if lowered.hasPrefix("postgres://") || lowered.hasPrefix("postgresql://") {
            self = .postgres(try PostgresLocation(url: text, environment: environment))
        } else if let scheme = Self.otherScheme(lowered) {
            // Never taken for a file name (it would be created, and printed with its password).
            throw .invalid("a \(scheme): URL is not a database Gatehouse opens: give a file path or a postgres:// URL")
        } else if Self.looksLikeKeywordString(lowered) {
            throw .invalid("this looks like a libpq keyword string (host=… dbname=…); give the same as a postgres:// URL")
        } else {
            self = .sqlite(path: text)
        }
    }

    /// The scheme of a URL that is not PostgreSQL's (`jdbc`, `mysql`, `sqlite`…), or nil.
    static func otherScheme(_ lowered: String) -> String? {
        guard lowered.contains("://"), let colon = lowered.firstIndex(of: ":") else { return nil }
        let scheme = lowered[..<colon]
        guard !scheme.isEmpty, scheme.allSatisfy({ $0.isLetter || $0.isNumber || "+.-".contains($0) }) else { return nil }
        return String(scheme.prefix(20))
    }

    /// `host=db dbname=gh password=…`: libpq's other form, which must not become a file name.
    static func looksLikeKeywordString(_ lowered: String) -> Bool {
        lowered.split(separator: " ").contains { word in
            ["host=", "hostaddr=", "dbname=", "user=", "password=", "port=", "sslmode="].contains { word.hasPrefix($0) }
        }
    }

    /// Safe to print: a PostgreSQL URL without its password.
    public var description: String {
        switch self {
        case .sqlite(let path): path
        case .postgres(let location): location.redacted
        }
    }
}

/// A PostgreSQL server and database, from a connection URI as libpq reads it
/// (<https://www.postgresql.org/docs/current/libpq-connect.html#LIBPQ-CONNSTRING-URIS>):
/// `postgresql://[user[:password]@][host][:port][/dbname][?host=…&port=…&user=…&password=…&sslmode=…]`.
/// What the URL leaves out comes from `PGHOST`, `PGPORT`, `PGUSER`, `PGPASSWORD`,
/// `PGDATABASE`, `PGSSLMODE`, then libpq's defaults (the Unix socket in `/var/run/postgresql`,
/// port 5432, the OS user, a database named like the user, `sslmode=prefer`). A host that
/// starts with `/` is the directory of a Unix socket.
public struct PostgresLocation: Sendable, Equatable {
    public enum SSLMode: String, Sendable, CaseIterable {
        case disable, allow, prefer, require, verifyCA = "verify-ca", verifyFull = "verify-full"
    }

    public var host: String
    public var port: Int
    public var user: String
    /// Never printed: `redacted` leaves it out, and so does every message.
    public var password: String?
    public var database: String
    public var sslMode: SSLMode

    /// Whether `host` is the directory of a Unix socket.
    public var isUnixSocket: Bool { host.hasPrefix("/") }
    /// The socket file libpq would use: `<dir>/.s.PGSQL.<port>`.
    public var unixSocketPath: String { "\(host)/.s.PGSQL.\(port)" }

    public init(url: String, environment: [String: String] = [:]) throws(DatabaseLocationError) {
        guard let schemeEnd = url.range(of: "://") else { throw .invalid("not a URL") }
        var rest = String(url[schemeEnd.upperBound...])
        var query: [String: String] = [:]
        if let mark = rest.firstIndex(of: "?") {
            for pair in rest[rest.index(after: mark)...].split(separator: "&") where !pair.isEmpty {
                let parts = pair.split(separator: "=", maxSplits: 1).map(String.init)
                // Only the key goes into a message: a value may be the password.
                guard parts.count == 2, let key = parts[0].removingPercentEncoding, let value = parts[1].removingPercentEncoding else {
                    throw .invalid("a parameter is not key=value with %-escapes that decode (a password with '?' or '&' must be %-escaped, or given in PGPASSWORD)")
                }
                query[key] = value
            }
            rest = String(rest[..<mark])
        }
        var path = ""
        if let slash = rest.firstIndex(of: "/") {
            path = String(rest[rest.index(after: slash)...])
            rest = String(rest[..<slash])
        }
        var userInfo: String?
        if let at = rest.lastIndex(of: "@") {
            userInfo = String(rest[..<at])
            rest = String(rest[rest.index(after: at)...])
        }
        var urlUser: String?
        var urlPassword: String?
        if let userInfo {
            let parts = userInfo.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
            urlUser = parts[0].isEmpty ? nil : try Self.decode(parts[0], "user")
            if parts.count == 2 { urlPassword = try Self.decode(parts[1], "password") }
        }
        var urlHost: String?
        var urlPort: String?
        if rest.hasPrefix("[") {  // [IPv6]:port
            guard let close = rest.firstIndex(of: "]") else { throw .invalid("an IPv6 host needs its closing ']'") }
            urlHost = String(rest[rest.index(after: rest.startIndex)..<close])
            let after = rest[rest.index(after: close)...]
            if after.hasPrefix(":") { urlPort = String(after.dropFirst()) }
        } else if !rest.isEmpty {
            let parts = rest.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
            urlHost = parts[0].isEmpty ? nil : try Self.decode(parts[0], "host")
            if parts.count == 2 { urlPort = parts[1] }
        }
        if urlHost?.contains(",") == true || urlPort?.contains(",") == true {
            throw .invalid("several hosts are not supported; name one (the primary)")
        }
        let known: Set = ["host", "port", "user", "password", "dbname", "sslmode", "application_name", "connect_timeout"]
        if query.keys.contains(where: { !known.contains($0) }) {
            // Not named: after a password's unescaped '?', its tail is what looks like a parameter.
            throw .invalid("a parameter is not one libpq knows here (host, port, user, password, dbname, sslmode, application_name, connect_timeout); a password with '?' must be %-escaped, or given in PGPASSWORD")
        }

        host = query["host"] ?? urlHost ?? environment["PGHOST"] ?? "/var/run/postgresql"
        let portText = query["port"] ?? urlPort.flatMap { $0.isEmpty ? nil : $0 } ?? environment["PGPORT"] ?? "5432"
        // The value is not quoted: an unescaped '/' or ':' in a password lands here.
        guard let port = Int(portText), (1...65535).contains(port) else {
            throw .invalid("the port is not a number 1–65535 (a password with '/', ':', '@' or '?' must be %-escaped in the URL, or given in PGPASSWORD)")
        }
        self.port = port
        user = query["user"] ?? urlUser ?? environment["PGUSER"] ?? ProcessInfo.processInfo.userName
        password = query["password"] ?? urlPassword ?? environment["PGPASSWORD"]
        let pathDatabase = path.isEmpty ? nil : try Self.decode(path, "database name")
        database = query["dbname"] ?? pathDatabase ?? environment["PGDATABASE"] ?? user
        let modeText = query["sslmode"] ?? environment["PGSSLMODE"] ?? "prefer"
        guard let mode = SSLMode(rawValue: modeText) else {
            // The value is not quoted either: it can hold the tail of an unescaped password.
            throw .invalid("sslmode is not one of \(SSLMode.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        sslMode = mode
        guard !database.isEmpty, !user.isEmpty else { throw .invalid("no user or database name") }
    }

    /// `postgresql://user@host:port/database?sslmode=…`, without the password (a Unix socket
    /// directory goes in `host=`).
    public var redacted: String {
        func encode(_ text: String) -> String { text.addingPercentEncoding(withAllowedCharacters: .urlUserAllowed) ?? text }
        let place = isUnixSocket ? "" : (host.contains(":") ? "[\(host)]" : host) + ":\(port)"
        var parameters = ["sslmode=\(sslMode.rawValue)"]
        if isUnixSocket { parameters = ["host=\(host)", "port=\(port)"] + parameters }
        return "postgresql://\(encode(user))@\(place)/\(encode(database))?" + parameters.joined(separator: "&")
    }

    private static func decode(_ text: String, _ what: String) throws(DatabaseLocationError) -> String {
        guard let decoded = text.removingPercentEncoding else { throw .invalid("the \(what) has a broken %-escape") }
        return decoded
    }
}

public enum DatabaseLocationError: Error, Equatable, CustomStringConvertible {
    case invalid(String)

    public var description: String {
        switch self {
        case .invalid(let why): "invalid PostgreSQL URL: \(why)"
        }
    }
}
