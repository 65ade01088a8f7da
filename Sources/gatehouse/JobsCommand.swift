import ArgumentParser
import Foundation
import GatehouseCore
import TerminalKit

struct JobsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "jobs",
        abstract: "Start, list, inspect, cancel and retry document jobs (user-export, audit-report).",
        discussion: "Jobs run in `gatehouse worker` or in `gatehouse serve --workers N`, in any process sharing the database.",
        subcommands: [Start.self, List.self, Show.self, Cancel.self, Retry.self]
    )

    struct Start: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Queue a document job and print its id.",
            discussion: """
                user-export --user EMAIL: everything held about one user, as JSON and Markdown.
                audit-report --from ISO --to ISO [--action A|prefix*] [--actor operator:alice] [--target session:ses_…] \
                [--outcome failure]: events in [from, to) as CSV and JSON Lines with the chain verification of the range.
                """)
        @OptionGroup var database: DatabaseArguments
        @OptionGroup var output: OutputOptions
        @Argument(help: "user-export or audit-report.") var kind: String
        @Option(parsing: .unconditional, help: "user-export: the user's email.") var user: String?
        @Option(parsing: .unconditional, help: "audit-report: start of the range (2026-11-21 or 2026-11-21T10:00:00Z).") var from: String?
        @Option(parsing: .unconditional, help: "audit-report: end of the range (exclusive).") var to: String?
        @Option(parsing: .unconditional, help: "audit-report: only this action (or prefix*).") var action: String?
        @Option(parsing: .unconditional, help: "audit-report: only this actor (type or type:id).") var actor: String?
        @Option(parsing: .unconditional, help: "audit-report: only this target (type or type:id).") var target: String?
        @Option(parsing: .unconditional, help: "audit-report: only this outcome (success, failure, denied).") var outcome: String?
        @Option(parsing: .unconditional, help: "Higher runs first (-1000 to 1000).") var priority = 0
        @Option(parsing: .unconditional, help: "At most one waiting or running job per key; a second start returns the first job.") var uniqueKey: String?
        @Option(parsing: .unconditional, help: "Attempts before the job fails.") var maxAttempts = 5

        func validate() throws { try require(priority, in: -1000...1000, "--priority") }

        func run() async throws {
            var arguments: [String: String] = [:]
            for (name, value) in [("user", user), ("from", from), ("to", to), ("action", action), ("actor", actor),
                                  ("target", target), ("outcome", outcome)] {
                if let value { arguments[name] = value }
            }
            let gatehouse = try database.open()
            let enqueued = try await CLIError.wrap(gatehouse) {
                try await gatehouse.jobs.enqueue(JobRequest(kind: kind, arguments: arguments, priority: priority, uniqueKey: uniqueKey,
                                                            maxAttempts: maxAttempts), by: currentOperator())
            }
            if output.json { return try printJSON(["id": enqueued.job.id]) }
            say(enqueued.deduplicated ? "\(enqueued.job.id) (already \(enqueued.job.state.rawValue) with this unique key)" : "\(enqueued.job.id)")
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List jobs, newest first.")
        @OptionGroup var database: DatabaseArguments
        @OptionGroup var output: OutputOptions
        @Option(parsing: .unconditional, help: "Only jobs in this state: queued, running, succeeded, failed, cancelled.") var state: Job.State?
        @Option(parsing: .unconditional, help: "At most this many rows.") var limit = 50
        @Flag(help: "Print notes and errors whole instead of cut to 50 columns.") var wide = false

        func validate() throws { try require(limit, in: 1...100_000, "--limit") }

        func run() async throws {
            let gatehouse = try database.open(readOnly: true)
            let jobs = try await CLIError.wrap(gatehouse) { try await gatehouse.jobs.list(state: state, limit: limit) }
            let now = gatehouse.clock.now()
            if output.json { return try printJSON(["jobs": jobs.map { JobJSON($0, outputs: nil) }]) }
            var table = TextTable("ID", "KIND", "STATE", "PROGRESS", "ATTEMPTS", "WORKER", "HEARTBEAT", "CREATED", "NOTE")
            for job in jobs {
                table.add(String(job.id), job.kind, job.state.rawValue + (job.cancelRequested && job.state == .running ? " (cancelling)" : ""),
                          "\(job.progress)%", "\(job.attempts)/\(job.maxAttempts)", job.leaseOwner ?? "-",
                          job.state == .running ? job.heartbeatAt.map { TimeText.age($0, now: now) } ?? "-" : "-",
                          TimeText.relative(job.createdAt, now: now),
                          TextTable.clip(job.lastError ?? job.progressNote ?? "", to: 50, wide: wide))
            }
            table.print(emptyMessage: "no jobs")
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "One job: state, progress, attempts and its documents (path, size, SHA-256).")
        @OptionGroup var database: DatabaseArguments
        @OptionGroup var output: OutputOptions
        @Argument(help: "The job id.") var id: Int64

        func run() async throws {
            let gatehouse = try database.open(readOnly: true)
            guard let (job, outputs) = try await CLIError.wrap(gatehouse, { try await gatehouse.jobs.find(id: id) }) else {
                throw JobError.notFound(id)
            }
            if output.json { return try printJSON(JobJSON(job, outputs: outputs)) }
            let now = gatehouse.clock.now()
            sayFields([
                ("id", String(job.id)), ("kind", job.kind),
                ("arguments", job.arguments.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")),
                ("state", job.state.rawValue + (job.cancelRequested && job.state == .running ? " (cancel requested)" : "")),
                ("progress", "\(job.progress)%" + (job.progressNote.map { " — \($0)" } ?? "")),
                ("attempts", "\(job.attempts) of \(job.maxAttempts)"), ("priority", String(job.priority)),
                ("requested by", job.requestedBy),
                ("created", TimeText.relative(job.createdAt, now: now)),
                ("run at", TimeText.relative(job.runAt, now: now)),
                ("worker", job.leaseOwner.map { "\($0), heartbeat \(job.heartbeatAt.map { TimeText.age($0, now: now) } ?? "-")" } ?? "-"),
                ("last error", job.lastError ?? "-"),
            ])
            guard !outputs.isEmpty else { return }
            say("\nDOCUMENTS")
            var table = TextTable("NAME", "SIZE", "SHA-256", "PATH")
            for output in outputs { table.add(output.name, String(output.size), output.sha256, output.path) }
            table.print(emptyMessage: "none")
        }
    }

    struct Cancel: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Cancel a queued job, or ask a running one to stop at its next checkpoint.")
        @OptionGroup var database: DatabaseArguments
        @Argument(help: "The job id.") var id: Int64

        func run() async throws {
            let gatehouse = try database.open()
            let job = try await CLIError.wrap(gatehouse) { try await gatehouse.jobs.cancel(id: id, by: currentOperator()) }
            say(job.state == .cancelled ? "job \(id) cancelled" : "job \(id) asked to stop; it ends at its next checkpoint")
        }
    }

    struct Retry: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Put a failed or cancelled job back in the queue.")
        @OptionGroup var database: DatabaseArguments
        @Argument(help: "The job id.") var id: Int64

        func run() async throws {
            let gatehouse = try database.open()
            _ = try await CLIError.wrap(gatehouse) { try await gatehouse.jobs.retry(id: id, by: currentOperator()) }
            say("job \(id) queued again")
        }
    }
}

extension Job.State: ExpressibleByArgument {}
