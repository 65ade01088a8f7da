import Foundation
import NIOSSL
import PostgresNIO

/// How to reach the PostgreSQL server a `PostgresLocation` names (socket or TCP, `sslmode` as
/// libpq means it), and the sentence an operator can act on when it cannot be reached. The
/// engine's pool, its synchronous connection and the consoles' LISTEN connection share both.
enum PostgresServer {
    /// A statement running longer is cancelled by the server (57014 → a 503).
    static let statementTimeout = "30s"

    /// The longest a statement's answer is waited for on this side: the server's statement
    /// timeout and 15 s more. Past it the server or the network went away without a word (a
    /// half-open socket; a query that met its connection's close and was never failed, seen
    /// once when the server stopped mid-transaction): the connection is closed and the caller
    /// gets `PostgresUnavailable`, a 503, instead of a thread and a request held forever.
    static let answerWait: TimeInterval = 45

    /// The longest a ROLLBACK after a failure is waited for; past it the connection is closed
    /// (the server rolls back a closed connection's transaction itself).
    static let rollbackWait: TimeInterval = 2

    /// Sent with every connection: the server enforces them.
    static let startupParameters = [
        ("statement_timeout", statementTimeout),
        // A transaction left open by a stuck process must not hold its row locks forever.
        ("idle_in_transaction_session_timeout", "60s"),
        ("application_name", "gatehouse"),
    ]

    /// One connection's settings for `location` (TLS per `sslmode`, the startup parameters).
    static func configuration(_ location: PostgresLocation) throws -> PostgresConnection.Configuration {
        var configuration: PostgresConnection.Configuration
        if location.isUnixSocket {
            configuration = .init(unixSocketPath: location.unixSocketPath, username: location.user, password: location.password,
                                  database: location.database)
        } else {
            let tls: PostgresConnection.Configuration.TLS = try location.sslMode.tls.map { configuration, required in
                let context = try NIOSSLContext(configuration: configuration)
                return required ? .require(context) : .prefer(context)
            } ?? .disable
            configuration = .init(host: location.host, port: location.port, username: location.user, password: location.password,
                                  database: location.database, tls: tls)
        }
        configuration.options.additionalStartupParameters = startupParameters
        return configuration
    }

    /// The pool's settings for `location`: the same server, TLS and startup parameters as
    /// `configuration`, at most `connections` at once.
    static func poolConfiguration(_ location: PostgresLocation, connections: Int) -> PostgresClient.Configuration {
        var configuration: PostgresClient.Configuration
        if location.isUnixSocket {
            configuration = .init(unixSocketPath: location.unixSocketPath, username: location.user, password: location.password,
                                  database: location.database)
        } else {
            let tls: PostgresClient.Configuration.TLS = location.sslMode.tls.map { configuration, required in
                required ? .require(configuration) : .prefer(configuration)
            } ?? .disable
            configuration = .init(host: location.host, port: location.port, username: location.user, password: location.password,
                                  database: location.database, tls: tls)
        }
        configuration.options.maximumConnections = connections
        configuration.options.connectTimeout = .seconds(5)
        configuration.options.additionalStartupParameters = startupParameters
        return configuration
    }

    /// The server's own message for a PostgreSQL error met while using the database, or nil
    /// for another error.
    static func serverMessage(_ error: any Error) -> String? {
        guard let error = error as? PSQLError else { return nil }
        if let message = error.serverInfo?[.message] { return "\(message) (SQLSTATE \(error.serverInfo?[.sqlState] ?? "?"))" }
        return "\(error.code)"
    }

    /// The sentence for a failed connection or statement: connection refused, no socket,
    /// authentication, a missing database or role, TLS, a statement timeout; else the server's
    /// own message.
    static func describe(_ error: any Error, _ location: PostgresLocation) -> String {
        let place = location.isUnixSocket ? "the socket \(location.unixSocketPath)" : "\(location.host):\(location.port)"
        guard let error = error as? PSQLError else { return "\(error)" }
        if let state = error.serverInfo?[.sqlState] {
            let message = error.serverInfo?[.message] ?? ""
            switch state {
            case "28P01": return "password authentication failed for user \(location.user) (the password in the URL or PGPASSWORD)"
            case "28000": return "the server refuses user \(location.user) here (\(message); see pg_hba.conf)"
            case "3D000": return "the database \(location.database) does not exist on \(place) (create it: createdb \(location.database))"
            case "57014": return "a statement ran past the server's statement_timeout"
            case "57P01", "57P02", "57P03": return "the server at \(place) is shutting down or starting up (\(message))"
            case "53300": return "the server at \(place) has no connection slots left (max_connections)"
            default: return "the server said: \(message) (SQLSTATE \(state))"
            }
        }
        switch error.code {
        case .connectionError:
            let underlying = error.underlying.map { "\($0)" } ?? ""
            if underlying.contains("refused") || underlying.contains("ECONNREFUSED") {
                return "no PostgreSQL server answers at \(place) (connection refused)"
            }
            if location.isUnixSocket && !FileManager.default.fileExists(atPath: location.unixSocketPath) {
                return "no PostgreSQL server at \(place): the socket does not exist (is the server running, on port \(location.port)?)"
            }
            return "cannot connect to \(place): \(underlying.isEmpty ? "connection error" : underlying)"
        case .authMechanismRequiresPassword:
            return "the server asks user \(location.user) for a password and none was given (in the URL or PGPASSWORD)"
        case .sslUnsupported:
            return "the server at \(place) does not offer TLS, and sslmode=\(location.sslMode.rawValue) requires it"
        case .serverClosedConnection, .uncleanShutdown:
            return "the server at \(place) closed the connection"
        default:
            return "\(error.code)"
        }
    }
}

extension PostgresLocation.SSLMode {
    /// `sslmode` as libpq means it, in NIOSSL's terms: nil for `disable`; `allow` and `prefer`
    /// TLS when the server offers it, unverified; `require` TLS, unverified; `verify-ca` the
    /// chain; `verify-full` the chain and the host name. (A Unix socket never uses TLS.)
    var tls: (configuration: TLSConfiguration, required: Bool)? {
        var configuration = TLSConfiguration.makeClientConfiguration()
        switch self {
        case .disable: return nil
        case .allow, .prefer:
            configuration.certificateVerification = .none
            return (configuration, false)
        case .require:
            configuration.certificateVerification = .none
            return (configuration, true)
        case .verifyCA:
            configuration.certificateVerification = .noHostnameVerification
            return (configuration, true)
        case .verifyFull:
            return (configuration, true)
        }
    }
}
