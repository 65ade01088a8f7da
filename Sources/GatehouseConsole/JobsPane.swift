import Foundation
import GatehouseCore
import TerminalKit

/// Document jobs: what runs, how far it got, who holds it, and where its documents went.
enum JobsPane {
    static let columns = [
        TableColumn("ID", min: 4, max: 7, alignRight: true),
        TableColumn("KIND", min: 12, max: 12),
        TableColumn("STATE", min: 9, max: 20),
        TableColumn("PROGRESS", min: 15, max: 15),
        TableColumn("TRIES", min: 5, max: 5),
        TableColumn("WORKER", min: 10, max: 28, flex: 1),
        TableColumn("BEAT", min: 4, max: 5),
        TableColumn("AGE", min: 3, max: 5),
        TableColumn("NOTE", min: 12, max: 60, flex: 2),
        TableColumn("ARGUMENTS", min: 12, max: 50, flex: 1),
    ]

    static func cells(_ job: Job, now: Date) -> [String] {
        let state = job.state.rawValue + (job.cancelRequested && job.state == .running ? " (stopping)" : "")
        let running = job.state == .running
        return [String(job.id), job.kind, state, progressBar(job.progress), "\(job.attempts)/\(job.maxAttempts)",
                running ? job.leaseOwner ?? "-" : "-", running ? job.heartbeatAt.map { TimeText.age($0, now: now) } ?? "-" : "-",
                TimeText.age(job.createdAt, now: now),
                job.lastError ?? job.progressNote ?? (job.state == .queued && job.runAt > now ? "runs in \(TimeText.until(job.runAt, now: now))" : ""),
                arguments(job)]
    }

    /// `██████░░░░  60%`: ten cells and the number, so it reads without colour too.
    static func progressBar(_ percent: Int) -> String {
        let clamped = max(0, min(100, percent))
        let filled = clamped / 10
        return String(repeating: "█", count: filled) + String(repeating: "░", count: 10 - filled) + " " + String(clamped).leftPadded(3) + "%"
    }

    static func arguments(_ job: Job) -> String {
        job.arguments.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
    }

    static func isEnded(_ job: Job) -> Bool { job.state == .cancelled || job.state == .succeeded }
}

/// The detail view behind `enter` on a job: its fields, documents and audit trail.
enum JobDetail {
    static func view(_ job: Job, outputs: [JobOutput], events: [AuditEvent], now: Date, theme: ConsoleTheme) -> TextView {
        let bold = Style(attributes: [.bold])
        var lines: [StyledLine] = []
        func field(_ label: String, _ value: String) { lines.append(StyledLine(DisplayWidth.fit(label, to: 16) + value)) }
        field("kind", job.kind)
        field("arguments", JobsPane.arguments(job))
        field("state", job.state.rawValue + (job.cancelRequested && job.state == .running ? " (cancel requested)" : ""))
        field("progress", JobsPane.progressBar(job.progress) + (job.progressNote.map { "  \($0)" } ?? ""))
        field("attempts", "\(job.attempts) of \(job.maxAttempts)")
        field("requested by", job.requestedBy)
        field("created", "\(TimeText.timestamp(job.createdAt)) (\(TimeText.since(job.createdAt, now: now)))")
        if job.state == .queued { field("runs at", TimeText.timestamp(job.runAt)) }
        if let owner = job.leaseOwner {
            field("worker", owner + (job.heartbeatAt.map { ", heartbeat \(TimeText.since($0, now: now))" } ?? ""))
        }
        if let finished = job.finishedAt { field("finished", TimeText.timestamp(finished)) }
        if let error = job.lastError { field("last error", error) }

        lines.append(StyledLine(""))
        lines.append(StyledLine("DOCUMENTS", style: bold))
        if outputs.isEmpty { lines.append(StyledLine("  none yet")) }
        for output in outputs {
            lines.append(StyledLine("  \(output.path)"))
            lines.append(StyledLine("    \(output.size) bytes  sha256 \(output.sha256)"))
        }

        lines.append(StyledLine(""))
        lines.append(StyledLine("AUDIT TRAIL", style: bold))
        for event in events {
            let actor = event.actorType + (event.actorId.map { ":\($0)" } ?? "")
            var text = "  \(event.seq)  \(TimeText.timestamp(event.at))  \(DisplayWidth.fit(event.action, to: 22)) \(DisplayWidth.fit(actor, to: 18))"
            if let reason = event.reason { text += "  \(reason)" }
            lines.append(StyledLine(text, style: event.outcome == "success" ? theme.text : theme.warn))
        }
        return TextView(title: "Job \(job.id)", lines: lines)
    }
}

private extension String {
    func leftPadded(_ width: Int) -> String {
        count >= width ? self : String(repeating: " ", count: width - count) + self
    }
}
