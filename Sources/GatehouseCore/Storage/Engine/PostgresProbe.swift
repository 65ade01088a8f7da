import Foundation
import Logging
import NIOCore
import NIOPosix
import NIOSSL
import PostgresNIO

/// One connection to the server a `PostgresLocation` names: what it is, or why it cannot be
/// reached, in a sentence an operator can act on. The first piece of the PostgreSQL engine
/// (docs/engines.md): the connection settings (socket or TCP, `sslmode` as libpq means it) and
/// the faults, which the engine's pool will share.
public enum PostgresProbe {
    public struct Server: Sendable, Equatable {
        /// `server_version`, e.g. `15.18 (Debian 15.18-0+deb12u1)`.
        public var version: String
        public var user: String
        public var database: String
    }

    /// Connects, asks the server who it is, disconnects.
    /// - Throws: `DatabaseOpenError.postgres` with a sentence (the password never in it).
    public static func connect(_ location: PostgresLocation) async throws(DatabaseOpenError) -> Server {
        let logger = Logger(label: "gatehouse.postgres")
        do {
            let connection = try await PostgresConnection.connect(configuration: try configuration(location), id: 1, logger: logger)
            defer { Task { try? await connection.close() } }
            let rows = try await connection.query("SELECT current_setting('server_version'), current_user, current_database()",
                                                  logger: logger)
            for try await (version, user, database) in rows.decode((String, String, String).self) {
                return Server(version: version, user: user, database: database)
            }
            throw DatabaseOpenError.postgres(location: location.redacted, problem: "the server answered no row")
        } catch let error as DatabaseOpenError {
            throw error
        } catch {
            throw .postgres(location: location.redacted, problem: describe(error, location))
        }
    }

    /// postgres-nio's settings for `location` (TLS per `sslmode`, as the engine's pool).
    static func configuration(_ location: PostgresLocation) throws -> PostgresConnection.Configuration {
        if location.isUnixSocket {
            return .init(unixSocketPath: location.unixSocketPath, username: location.user, password: location.password,
                         database: location.database)
        }
        let tls: PostgresConnection.Configuration.TLS = try location.sslMode.tls.map { configuration, required in
            let context = try NIOSSLContext(configuration: configuration)
            return required ? .require(context) : .prefer(context)
        } ?? .disable
        return .init(host: location.host, port: location.port, username: location.user, password: location.password,
                     database: location.database, tls: tls)
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
