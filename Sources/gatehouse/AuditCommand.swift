import ArgumentParser
import Foundation
import GatehouseCore
import TerminalKit

struct AuditCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "audit",
        abstract: "Read and verify the hash-chained audit log.",
        subcommands: [Tail.self, Verify.self]
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
        static let configuration = CommandConfiguration(abstract: "Walk the hash chain; exit 1 and name the first bad row if it was changed.")
        @OptionGroup var database: DatabaseArguments
        @OptionGroup var output: OutputOptions

        func run() async throws {
            let gatehouse = try database.open(readOnly: true)
            let result = try await CLIError.wrap(gatehouse) { try await gatehouse.audit.verify() }
            if output.json {
                try printJSON(result)
            } else if result.isIntact {
                say("audit log intact: \(result.checked) events verified")
            }
            if let seq = result.firstBrokenSeq {
                throw CLIError.failed("audit log broken at seq \(seq): \(result.problem ?? "mismatch") (\(result.checked) events before it verified)")
            }
        }
    }
}
