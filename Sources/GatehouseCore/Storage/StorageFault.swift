import Foundation
import GRDB
import PostgresNIO

/// What went wrong with the storage after opening, in the engine's own terms translated to the
/// few answers callers give: the API's 503 problems, the CLI's sentence, the console's message
/// line. The only place engine error codes (SQLite result codes, PostgreSQL SQLSTATEs) are read.
public enum StorageFault: Sendable, Equatable {
    /// Another writer held the lock past the wait, or PostgreSQL kept failing the transaction
    /// with serialization failures or deadlocks after the retries: try again shortly.
    case busy
    case diskFull
    /// SQLite found damage in the file.
    case corrupt(String)
    /// The file or server refuses writes (read-only file system, a standby server).
    case cannotWrite
    /// The database server is unreachable or went away (restart, network): try again shortly.
    case unavailable(String)
    /// A statement ran past the server's `statement_timeout`.
    case timedOut

    /// The fault `error` stands for, or nil when it is not a storage fault (a bug, a rule).
    public static func classify(_ error: any Error) -> StorageFault? {
        switch error {
        case let error as DatabaseError:
            switch error.resultCode {
            case .SQLITE_BUSY, .SQLITE_LOCKED: return .busy
            case .SQLITE_FULL: return .diskFull
            case .SQLITE_CORRUPT, .SQLITE_NOTADB: return .corrupt(error.message ?? "database disk image is malformed")
            case .SQLITE_IOERR, .SQLITE_CANTOPEN, .SQLITE_READONLY: return .cannotWrite
            default: return nil
            }
        case let error as PSQLError:
            return classify(error)
        case let error as PostgresUnavailable:
            return .unavailable(error.description)
        case is RateLimitOvertaken:
            return .busy                // ten runs overtaken in a row: contention, try again shortly
        case DatabaseOpenError.corrupt(_, let detail):
            return .corrupt(detail)
        default:
            return nil
        }
    }

    private static func classify(_ error: PSQLError) -> StorageFault? {
        if let state = error.serverInfo?[.sqlState] {
            switch state {
            case "40001", "40P01", "55P03": return .busy
            case "53100": return .diskFull
            case "57014": return .timedOut
            case "25006": return .cannotWrite                         // read-only transaction (a standby)
            case "57P01", "57P02", "57P03", "53300":
                return .unavailable(error.serverInfo?[.message] ?? state)
            case let state where state.hasPrefix("08"):
                return .unavailable(error.serverInfo?[.message] ?? state)
            default: return nil
            }
        }
        switch error.code {
        case .connectionError, .serverClosedConnection, .clientClosedConnection, .poolClosed:
            return .unavailable("the connection to the database server was lost")
        case .uncleanShutdown:
            return .unavailable("the database server closed the connection")
        default:
            return nil
        }
    }

    /// The server's words when it refused a statement's regular expression (PostgreSQL's
    /// 2201B), nil for any other error. Filters are checked with ICU where they are typed, and
    /// a few ICU constructs (`\p{L}`, possessive quantifiers) have no equivalent in
    /// PostgreSQL's AREs: the operator's input, not a storage fault.
    public static func refusedRegularExpression(_ error: any Error) -> String? {
        guard let error = error as? PSQLError, error.serverInfo?[.sqlState] == "2201B" else { return nil }
        return error.serverInfo?[.message] ?? "invalid regular expression"
    }

    /// True for any error an engine raised (classified or not): what the CLI turns into a
    /// sentence through `GatehouseDatabase.explain` rather than a raw dump.
    public static func isEngineError(_ error: any Error) -> Bool {
        error is DatabaseError || error is PSQLError || error is PostgresUnavailable || error is RateLimitOvertaken
    }

    /// One sentence for an operator (CLI, console); `location` names the database.
    public func sentence(location: String) -> String {
        switch self {
        case .busy: "\(location) is busy (locked by another writer); nothing was changed, try again"
        case .diskFull: "the disk of \(location) is full; nothing was changed"
        case .corrupt(let detail): DatabaseOpenError.corrupt(path: location, detail: detail).description
        case .cannotWrite: "\(location) does not accept writes here (read-only file or server)"
        case .unavailable(let detail): "\(location) is unreachable (\(detail)); try again when it is back"
        case .timedOut: "a statement on \(location) ran past its time limit; nothing was changed"
        }
    }
}
