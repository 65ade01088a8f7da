import ArgumentParser
import Foundation
import GatehouseCore

/// `gatehouse copy --from A --to B`: moves a deployment between engines (docs/engines.md).
struct CopyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "copy",
        abstract: "Copy a whole deployment to another database: SQLite to PostgreSQL and back (every table, the signing keys, the audit chain).",
        discussion: """
            The source is read in one read transaction: the copy is a consistent snapshot of it, even while servers \
            write to it. Writes committed after the snapshot are not in the copy, and the command says so when the \
            audit log grew meanwhile: to switch over, stop `serve` and `worker` on the source, copy, then start them \
            on the target. The target is written in one transaction, committed only after its audit chain verified \
            and ended at the source's head; it is created when missing (an SQLite file; for PostgreSQL the database \
            must exist). A target that holds data is refused unless --force. The copy is recorded on the target as \
            one more audit event. Job documents are files recorded by their full path: they are not copied, and nodes that \
            serve downloads must see them at that path.
            """)

    @Option(name: .customLong("from"), parsing: .unconditional, help: ArgumentHelp("The database to copy: an SQLite file or a postgres:// URL.", valueName: "path-or-url"))
    var source: String
    @Option(name: .customLong("to"), parsing: .unconditional, help: ArgumentHelp("The database to copy into: an SQLite file or a postgres:// URL.", valueName: "path-or-url"))
    var target: String
    @Flag(help: "Replace everything the target holds (its users, sessions, audit log and keys).") var force = false
    @OptionGroup var output: OutputOptions

    func run() async throws {
        if Self.sameDatabase(source, target) { throw CLIError.usage("--from and --to name the same database") }
        let from = try GatehouseDatabase.open(path: source, options: DatabaseOptions(readOnly: true))
        let to = try GatehouseDatabase.open(path: target, options: DatabaseOptions(createIfMissing: true))
        defer { try? from.close(); try? to.close() }
        let bar = ProgressLine()
        let started = ContinuousClock.now
        let report: DatabaseCopy.Report
        do {
            report = try DatabaseCopy.run(from: from, to: to, replacing: force, by: currentOperator()) { progress in
                bar.update(progress.table, done: progress.copied, total: progress.total)
            }
            bar.finish()
        } catch let error as DatabaseCopy.CopyError {
            bar.finish()
            throw CLIError.failed(error.description)
        } catch let error as DatabaseCopy.SideError {
            bar.finish()
            let database = error.side == .source ? from : to
            throw CLIError.failed(StorageFault.isEngineError(error.underlying) ? database.explain(error.underlying) : "\(database.path): \(error.underlying)")
        } catch where StorageFault.isEngineError(error) {
            bar.finish()
            throw CLIError.failed(to.explain(error))
        }
        let seconds = (ContinuousClock.now - started) / .seconds(1)
        if output.json { return try printJSON(CopyJSON(report, from: from.path, to: to.path, seconds: seconds)) }
        say(Self.summary(report, from: from.path, to: to.path, seconds: seconds))
        if let moved = report.sourceMoved {
            sayError("""
                warning: the source's audit log grew while copying (#\(moved.from) → #\(moved.to)): writes after the snapshot \
                are not in the target. Stop serve and worker on the source, then copy again with --force before switching over.
                """)
        }
    }

    static func summary(_ report: DatabaseCopy.Report, from: String, to: String, seconds: Double) -> String {
        var lines = ["copied \(from) → \(to): \(report.total.formatted()) rows in \(String(format: "%.1f", seconds)) s"]
        lines.append("  " + report.rows.filter { $0.count > 0 }.map { "\($0.table) \($0.count.formatted())" }.joined(separator: " · "))
        if let head = report.auditHead {
            lines.append("  audit chain verified on the target: head #\(head.seq) (\(Fingerprint.of(head.hash))) equal to the source's; "
                         + "the copy is recorded as #\(report.recordedAs)")
        } else {
            lines.append("  the source's audit log was empty; the copy is recorded as #\(report.recordedAs)")
        }
        lines.append("  a consistent snapshot: the source as of \(ISO8601DateFormatter().string(from: report.snapshotAt)) (one read transaction)")
        if !report.replaced.isEmpty { lines.append("  replaced what the target held: \(DatabaseCopy.describe(report.replaced))") }
        let documents = report.count("job_outputs")
        if documents > 0 {
            lines.append("  \(documents.formatted()) job document(s) are files, recorded by their full path: they stay where they are; "
                         + "nodes that serve downloads must see that folder at the same path")
        }
        return lines.joined(separator: "\n")
    }

    /// Whether both name one database: the same file (after symlinks), or the same server and database name.
    static func sameDatabase(_ first: String, _ second: String) -> Bool {
        // One that does not parse is refused by opening it, with the reason.
        switch (try? DatabaseLocation(first), try? DatabaseLocation(second)) {
        case (.sqlite(let a), .sqlite(let b)):
            let resolve = { (path: String) in URL(fileURLWithPath: path).resolvingSymlinksInPath().standardizedFileURL.path }
            return resolve(a) == resolve(b)
        case (.postgres(let a), .postgres(let b)):
            return a.host == b.host && a.port == b.port && a.database == b.database
        default:
            return false
        }
    }
}

/// `copy --json`.
struct CopyJSON: Encodable {
    var source: String
    var target: String
    var seconds: Double
    var snapshot_at: String
    var rows: [String: Int]
    var audit_head: Int64?
    var audit_head_hash: String?
    var recorded_as: Int64
    var replaced: [String: Int]
    var source_moved_to: Int64?

    init(_ report: DatabaseCopy.Report, from: String, to: String, seconds: Double) {
        source = from
        target = to
        self.seconds = (seconds * 1000).rounded() / 1000
        snapshot_at = ISO8601DateFormatter().string(from: report.snapshotAt)
        rows = Dictionary(uniqueKeysWithValues: report.rows.map { ($0.table, $0.count) })
        audit_head = report.auditHead?.seq
        audit_head_hash = report.auditHead.map { Fingerprint.hex($0.hash) }
        recorded_as = report.recordedAs
        replaced = Dictionary(uniqueKeysWithValues: report.replaced.map { ($0.table, $0.count) })
        source_moved_to = report.sourceMoved?.to
    }
}
