import Foundation

/// A failure that retrying cannot fix (a user that does not exist): the job fails at once.
public struct PermanentJobFailure: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// The job kinds Gatehouse runs, their arguments, and what runs them.
public enum DocumentKinds {
    public static let userExport = "user-export"
    public static let auditReport = "audit-report"
    public static let all = [userExport, auditReport]

    /// The audit-report filters (all optional): exact match, `action` also `prefix*`.
    public static let auditReportFilters = ["action", "actor", "target", "outcome"]

    /// The arguments as the job will store them, or `JobError.invalidArguments`. A user-export's
    /// address becomes the stored address of the user it names (`User.find(address:)`: the
    /// normalised address, or the old spelling of a user the v4 migration left apart), so that the
    /// export is of that user and the listing shows who it is.
    static func validated(kind: String, arguments: [String: String], in tx: any SQLTransaction) throws -> [String: String] {
        var arguments = arguments
        switch kind {
        case userExport:
            guard let user = arguments["user"] else { throw JobError.invalidArguments("user-export needs a user (an email address)") }
            do {
                arguments["user"] = try User.find(address: user, in: tx)?.email ?? EmailAddress.normalize(user)
            } catch let error as AuthError {
                throw JobError.invalidArguments("user: \(error.description)")
            }
            try rejectUnknown(arguments, allowed: ["user"])
        case auditReport:
            guard let fromText = arguments["from"], let toText = arguments["to"] else {
                throw JobError.invalidArguments("audit-report needs from and to (ISO 8601, e.g. 2026-11-21 or 2026-11-21T10:00:00Z)")
            }
            guard let from = Timestamp.parse(fromText) else { throw JobError.invalidArguments("from: '\(fromText)' is not an ISO 8601 date") }
            guard let to = Timestamp.parse(toText) else { throw JobError.invalidArguments("to: '\(toText)' is not an ISO 8601 date") }
            guard from < to else { throw JobError.invalidArguments("from must be before to") }
            try rejectUnknown(arguments, allowed: ["from", "to"] + auditReportFilters)
        case Retention.kind:
            _ = try RetentionPolicy(arguments: arguments)
            try rejectUnknown(arguments, allowed: RetentionPolicy.argumentNames)
        case MailDelivery.kind:
            throw JobError.invalidArguments("mail jobs are queued by magic-link requests, not started by hand (retry a failed one instead)")
        default:
            throw JobError.unknownKind(kind)
        }
        return arguments
    }

    private static func rejectUnknown(_ arguments: [String: String], allowed: [String]) throws {
        if let unknown = arguments.keys.sorted().first(where: { !allowed.contains($0) }) {
            throw JobError.invalidArguments("unknown argument '\(unknown)' (allowed: \(allowed.joined(separator: ", ")))")
        }
    }

    /// Runs `context.job`: the files it wrote and, when it has one, its closing note.
    static func run(_ context: JobContext, database: GatehouseDatabase, sendmail: SendmailCommand) async throws
        -> (outputs: [JobOutput], note: String?) {
        switch context.job.kind {
        case userExport: (try await UserExport.write(context, database: database), nil)
        case auditReport: (try await AuditReport.write(context, database: database), nil)
        case MailDelivery.kind: ([], try await MailDelivery.run(context, database: database, sendmail: sendmail))
        case Retention.kind: ([], try await Retention.run(context, database: database))
        default: throw PermanentJobFailure("unknown job kind '\(context.job.kind)'")
        }
    }
}
