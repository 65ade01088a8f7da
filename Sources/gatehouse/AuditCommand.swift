import ArgumentParser
import Foundation
import GatehouseCore
import GatehouseServer
import TerminalKit

struct AuditCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "audit",
        abstract: "Read and verify the hash-chained audit log; sign checkpoints of its head.",
        subcommands: [Tail.self, Verify.self, Checkpoint.self, Archive.self]
    )

    struct Tail: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print the newest audit events; --follow keeps printing new ones.")
        @OptionGroup var database: DatabaseArguments
        @OptionGroup var output: OutputOptions
        @Option(parsing: .unconditional, help: "How many of the newest events to print first.") var limit = 20
        @Flag(name: [.short, .long], help: "Keep running and print events as they are committed (Ctrl-C stops).") var follow = false
        @Option(parsing: .unconditional, help: "With --follow: seconds between polls.") var interval = 0.5

        func validate() throws {
            try require(limit, in: 0...100_000, "--limit")
            try require(interval, in: 0.05...3600, "--interval", " seconds")
        }

        func run() async throws {
            let gatehouse = try database.open(readOnly: true)
            let initial = try await CLIError.wrap(gatehouse) { try await gatehouse.audit.tail(limit: limit) }
            // With --follow and --json, one JSON object per line (JSON Lines) so a pipe can read it live.
            if output.json && !follow { return try printJSON(["events": initial.map(AuditEventJSON.init)]) }
            var last = initial.last?.seq ?? 0
            if !follow && initial.isEmpty { return say("no audit events") }
            emit(initial)
            guard follow else { return }
            if initial.isEmpty, let newest = try await gatehouse.audit.tail(limit: 1).last { last = newest.seq }
            while true {
                try await Task.sleep(for: .seconds(max(0.05, interval)))
                let events = try await CLIError.wrap(gatehouse) { try await gatehouse.audit.events(after: last) }
                emit(events)
                last = events.last?.seq ?? last
            }
        }

        private func emit(_ events: [AuditEvent]) {
            guard !events.isEmpty else { return }
            // Each line is written unbuffered, so a pipe reads the events as they come.
            for event in events {
                if output.json { try? printJSONLine(AuditEventJSON(event)) } else { say(AuditCommand.line(event), oneLine: true) }
            }
        }
    }

    static func line(_ event: AuditEvent) -> String {
        let actor = event.actorType + (event.actorId.map { ":\($0)" } ?? "")
        let target = event.targetId.map { "\(event.targetType ?? "")=\($0)" } ?? "-"
        var parts = [String(event.seq), TimeText.timestamp(event.at), actor, event.action, target, event.outcome]
        if let reason = event.reason { parts.append("reason=\(reason)") }
        if let ip = event.ip { parts.append("ip=\(ip)") }
        if let details = event.details { parts.append(details) }
        return parts.joined(separator: "  ")
    }

    static func table(_ events: [AuditEvent]) -> TextTable {
        var table = TextTable("SEQ", "TIME", "ACTOR", "ACTION", "OUTCOME", "REASON", "DETAILS")
        for event in events {
            table.add(String(event.seq), TimeText.timestamp(event.at), event.actorType + (event.actorId.map { ":\($0)" } ?? ""),
                      event.action, event.outcome, event.reason ?? "-", event.details ?? "")
        }
        return table
    }

    struct Verify: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Walk the hash chain; exit 1 and name the first bad row if it was changed.",
            discussion: """
                With --checkpoints, also hold every signed checkpoint in the folder against the log: a tail cut off \
                after a checkpoint, a chain rebuilt from scratch (every row chains, but a signed head differs), and \
                forged or removed checkpoints are named. The public key comes from --public-key (FILE.pub, or the \
                key itself), else from [audit] checkpoint_key in --config.
                """)
        @OptionGroup var database: DatabaseArguments
        @OptionGroup var output: OutputOptions
        @Option(parsing: .unconditional, help: ArgumentHelp("A folder of signed checkpoints (checkpoints.jsonl).", valueName: "dir"))
        var checkpoints: String?
        @Option(parsing: .unconditional, help: ArgumentHelp("The checkpoint key's public half (FILE.pub) or the key itself.", valueName: "file"))
        var publicKey: String?
        @Option(parsing: .unconditional, help: ArgumentHelp("serve's config file, for [audit] checkpoint_key and checkpoint_dir.", valueName: "file"))
        var config: String?
        @Option(parsing: .unconditional, help: ArgumentHelp("The folder of audit archives: walk them, then the database, end to end.", valueName: "dir"))
        var archives: String?

        func run() async throws {
            let settings = try config.map { try ServerConfigFile.load(path: $0).checkpoints } ?? CheckpointSettings()
            let gatehouse = try database.open(readOnly: true)
            if let archives {
                let result = try await CLIError.wrap(gatehouse) { try await gatehouse.audit.verify(archivesIn: archives) }
                if output.json { try printJSON(result) } else if result.isIntact {
                    say("audit log intact end to end: \(result.checked) events verified ("
                        + (result.archivedThrough.map { "archives through #\($0), then the database)" } ?? "no archives yet: the database alone)"))
                }
                if let seq = result.firstBrokenSeq { throw CLIError.failed("audit log broken at seq \(seq): \(result.problem ?? "mismatch")") }
                // Checkpoints too, when given (or named by the config).
                if checkpoints == nil && (config == nil || settings.directory == nil) { return }
            }
            if let directory = checkpoints ?? (config != nil ? settings.directory : nil) {
                guard let keyPath = publicKey ?? settings.key.map({ FileManager.default.fileExists(atPath: $0 + ".pub") ? $0 + ".pub" : $0 }) else {
                    throw CLIError.usage("--checkpoints needs the public key: --public-key FILE.pub (or [audit] checkpoint_key in --config)")
                }
                let key = try CheckpointPublicKey.load(path: keyPath)
                let lines = try CheckpointFile(directory: directory).read()
                let report = try await CLIError.wrap(gatehouse) { try await gatehouse.audit.verify(checkpoints: lines, publicKey: key, archivesIn: archives) }
                if output.json { try printJSON(report) } else {
                    if report.chain.isIntact { say("hash chain intact: \(report.chain.checked) events verified") }
                    if let newest = report.newest, report.problems.isEmpty {
                        say("\(report.checkpoints) signed checkpoint(s) verified with key \(key.fingerprint); the newest, \(newest.at), covers rows to \(newest.seq)")
                    }
                    for problem in report.problems { sayError(problem) }
                }
                if !report.chain.isIntact {
                    throw CLIError.failed("audit log broken at seq \(report.chain.firstBrokenSeq ?? 0): \(report.chain.problem ?? "mismatch")")
                }
                if !report.problems.isEmpty { throw CLIError.failed("the audit log does not match its signed checkpoints") }
                return
            }
            let result = try await CLIError.wrap(gatehouse) { try await gatehouse.audit.verify() }
            if output.json {
                try printJSON(result)
            } else if result.isIntact {
                say("audit log intact: \(result.checked) events verified"
                    + (result.archivedThrough.map { " (rows to #\($0) are archived: add --archives DIR to verify them too)" } ?? ""))
            }
            if let seq = result.firstBrokenSeq {
                throw CLIError.failed("audit log broken at seq \(seq): \(result.problem ?? "mismatch") (\(result.checked) events before it verified)")
            }
        }
    }

    struct Checkpoint: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Sign the chain's head (Ed25519) and append the checkpoint to a folder kept off this host.",
            discussion: """
                The key and folder come from --key and --to, else from [audit] in --config. --create-key makes the \
                key (mode 0600) and FILE.pub, the public half to keep wherever checkpoints are verified. serve and \
                worker write checkpoints on their own every [audit] checkpoint_interval.
                """)
        @OptionGroup var database: DatabaseArguments
        @OptionGroup var output: OutputOptions
        @Option(parsing: .unconditional, help: ArgumentHelp("The checkpoint key (Ed25519, mode 0600).", valueName: "file")) var key: String?
        @Option(parsing: .unconditional, help: ArgumentHelp("The folder checkpoints.jsonl is appended in.", valueName: "dir")) var to: String?
        @Option(parsing: .unconditional, help: ArgumentHelp("serve's config file, for [audit] checkpoint_key and checkpoint_dir.", valueName: "file"))
        var config: String?
        @Flag(help: "Make the key (and FILE.pub) first; refuses to replace one.") var createKey = false

        func run() async throws {
            let settings = try config.map { try ServerConfigFile.load(path: $0).checkpoints } ?? CheckpointSettings()
            guard let keyPath = key ?? settings.key, let directory = to ?? settings.directory else {
                throw CLIError.usage("give --key FILE and --to DIR (or [audit] checkpoint_key and checkpoint_dir in --config)")
            }
            let signingKey = createKey ? try CheckpointKey.create(path: keyPath) : try CheckpointKey.load(path: keyPath)
            if createKey {
                // On standard error with --json: standard output is the JSON document alone.
                let note = "created checkpoint key \(keyPath) (\(signingKey.publicKey.fingerprint)); keep \(keyPath).pub where checkpoints are verified"
                if output.json { sayError(note) } else { say(note) }
            }
            let gatehouse = try database.open()
            let checkpoint = try await CLIError.wrap(gatehouse) {
                try await gatehouse.audit.checkpoint(key: signingKey, file: CheckpointFile(directory: directory), by: currentOperator())
            }
            if output.json { return try printJSON(checkpoint) }
            say("signed checkpoint: rows to \(checkpoint.seq), head \(checkpoint.head.prefix(16))…, key \(checkpoint.key), appended to \(CheckpointFile(directory: directory).path)")
        }
    }

    struct Archive: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Move audit rows older than a date into a compressed JSON Lines file, verified, then out of the database.",
            discussion: """
                The file is read back and its chain walked before any row is deleted; with a checkpoint key (--key and \
                --checkpoints, or [audit] in --config) a signed checkpoint bridges the cut. `audit verify --archives DIR` \
                then covers archives and database end to end.
                """)
        @OptionGroup var database: DatabaseArguments
        @OptionGroup var output: OutputOptions
        @Option(parsing: .unconditional, help: ArgumentHelp("Archive rows before this time (ISO 8601, e.g. 2026-01-01).", valueName: "time"))
        var before: String
        @Option(parsing: .unconditional, help: ArgumentHelp("The archive folder.", valueName: "dir")) var to: String
        @Option(parsing: .unconditional, help: ArgumentHelp("The checkpoint key, to sign the cut.", valueName: "file")) var key: String?
        @Option(parsing: .unconditional, help: ArgumentHelp("The checkpoint folder.", valueName: "dir")) var checkpoints: String?
        @Option(parsing: .unconditional, help: ArgumentHelp("serve's config file, for [audit] checkpoint_key and checkpoint_dir.", valueName: "file"))
        var config: String?

        func run() async throws {
            guard let cutoff = Timestamp.parse(before) else { throw CLIError.usage("--before: '\(before)' is not an ISO 8601 time") }
            let settings = try config.map { try ServerConfigFile.load(path: $0).checkpoints } ?? CheckpointSettings()
            var signer: (key: CheckpointKey, file: CheckpointFile)?
            let keyPath = key ?? settings.key, directory = checkpoints ?? settings.directory
            guard (keyPath == nil) == (directory == nil) else {
                throw CLIError.usage("--key and --checkpoints go together: the cut is signed with the one and appended to the other")
            }
            if let keyPath, let directory {
                signer = (try CheckpointKey.load(path: keyPath), CheckpointFile(directory: directory))
            }
            let gatehouse = try database.open()
            let progress = ProgressLine()
            let record = try await CLIError.wrap(gatehouse) {
                try await gatehouse.audit.archive(before: cutoff, to: to, checkpoint: signer, by: currentOperator()) { done, total in
                    progress.update("audit_events", done: Int(done), total: Int(total))
                }
            }
            progress.finish()
            guard let record else {
                if output.json { return try printJSON(["archived": 0]) }
                return say("nothing to archive before \(before)")
            }
            if output.json { return try printJSON(record) }
            say("archived rows \(record.firstSeq)–\(record.lastSeq) (\(record.rowCount)) to \(to)/\(record.file), sha256 \(record.sha256.prefix(16))…"
                + (signer == nil ? "; no checkpoint key: the cut is not signed" : "; a signed checkpoint bridges the cut"))
        }
    }
}
