import ArgumentParser
import Foundation
import GatehouseCore

/// `gatehouse backup --to FILE`: a verified copy of a live SQLite database.
struct BackupCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "backup",
        abstract: "Copy a live SQLite database to FILE (consistent while serve writes), verified before it is kept.",
        discussion: """
            SQLite's online backup takes a snapshot of one instant; the copy is checked (integrity_check, then the \
            audit chain) under a temporary name and only then put at FILE, mode 0600. For PostgreSQL, use pg_dump or \
            point-in-time recovery (the README says how). Restore with `gatehouse restore --from FILE`.
            """)
    @OptionGroup var database: DatabaseArguments
    @OptionGroup var output: OutputOptions
    @Option(parsing: .unconditional, help: ArgumentHelp("Where the backup goes.", valueName: "file")) var to: String
    @Flag(help: "Replace FILE if it exists.") var force = false

    func run() async throws {
        let gatehouse = try database.open(readOnly: true)
        let report = try await CLIError.wrap(gatehouse) { try await DatabaseBackup.backup(gatehouse.database, to: to, replacing: force) }
        if output.json { return try printJSON(BackupJSON(report)) }
        say("backed up \(gatehouse.database.path) to \(report.path): \(report.bytes) bytes, integrity ok, audit chain intact (\(report.auditEvents) events, head #\(report.auditHead ?? 0))")
    }
}

/// `gatehouse restore --from FILE`: the backup, verified, put in place of the database.
struct RestoreCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "restore",
        abstract: "Put a backup in place of the SQLite database, after verifying it; refuses while a process has the database open.",
        discussion: "Stop serve and workers first. The restore is audited in the restored database, with the operator.")
    @OptionGroup var database: DatabaseArguments
    @OptionGroup var output: OutputOptions
    @Option(parsing: .unconditional, help: ArgumentHelp("The backup to restore.", valueName: "file")) var from: String
    @Flag(help: "Replace the database if it exists.") var force = false

    func run() async throws {
        let path = database.path
        guard case .sqlite = try DatabaseLocation(path) else {
            throw CLIError.usage("restore writes SQLite files; restore PostgreSQL with pg_restore (see the README's Backups)")
        }
        let report = try await DatabaseBackup.restore(from: from, to: path, replacing: force)
        let gatehouse = try database.open()
        try await CLIError.wrap(gatehouse) {
            _ = try await gatehouse.audit.record(AuditEntry(actor: currentOperator(), action: "database.restored", targetType: "database",
                                                            targetId: path, details: ["from": from, "head": String(report.auditHead ?? 0)]))
        }
        try? gatehouse.database.close()
        if output.json { return try printJSON(BackupJSON(report)) }
        say("restored \(path) from \(from): integrity ok, audit chain intact (\(report.auditEvents) events, head #\(report.auditHead ?? 0)); the restore is audited")
    }
}

struct BackupJSON: Encodable {
    var path: String
    var bytes: Int64
    var audit_events: Int
    var audit_head: Int64?

    init(_ report: DatabaseBackup.Report) {
        path = report.path
        bytes = report.bytes
        audit_events = report.auditEvents
        audit_head = report.auditHead
    }
}
