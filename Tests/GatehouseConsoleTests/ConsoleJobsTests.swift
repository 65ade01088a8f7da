import Foundation
import GatehouseCore
import Testing
import TerminalKit
@testable import GatehouseConsole

@Suite("Console: jobs pane")
struct ConsoleJobsTests {
    static let operatorActor = Actor.operator(OperatorIdentity(name: "oncall", sshClient: nil, via: "cli"))

    /// A queued export, a running report at 40%, and a job that failed for good.
    func seedJobs(_ fixture: ConsoleFixture) async throws {
        let jobs = fixture.writer.jobs
        _ = try await jobs.enqueue(JobRequest(kind: DocumentKinds.userExport, arguments: ["user": "ghost@example.com"], maxAttempts: 1),
                                   by: Self.operatorActor)
        let failing = try #require(try await jobs.claim(worker: "worker-a:1:0", lease: 30))
        try await jobs.fail(id: failing.id, worker: "worker-a:1:0", error: "no user ghost@example.com", permanent: true)
        _ = try await jobs.enqueue(JobRequest(kind: DocumentKinds.auditReport, arguments: ["from": "2026-11-01", "to": "2026-11-02"]),
                                   by: Self.operatorActor)
        let running = try #require(try await jobs.claim(worker: "worker-a:1:0", lease: 30))
        fixture.clock.advance(by: 4)
        _ = try await jobs.heartbeat(id: running.id, worker: "worker-a:1:0", lease: 30, progress: 40, note: "40,000 events written")
        fixture.clock.advance(by: 2)
        _ = try await jobs.enqueue(JobRequest(kind: DocumentKinds.userExport, arguments: ["user": "alice@example.com"]), by: Self.operatorActor)
    }

    @Test("kind, state, a progress bar, attempts, worker and heartbeat age, arguments and the note")
    func screen() async throws {
        let fixture = try ConsoleFixture(width: 120, height: 24)
        try await seedJobs(fixture)
        await fixture.start()
        await fixture.press(.character("4"))
        let lines = fixture.screen.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        #expect(lines[1] == " 1 Sessions   2 Tokens   3 Limits   4 Jobs   5 Audit   6 Pulse")
        #expect(lines[2].hasPrefix("ID ↓  KIND          STATE      PROGRESS         TRIES  WORKER        BEAT  AGE  NOTE"))
        #expect(lines[3].contains("3  user-export   queued     ░░░░░░░░░░   0%  0/5"))
        #expect(lines[3].contains("user=alice"))
        #expect(lines[4].contains("2  audit-report  running    ████░░░░░░  40%  1/5    worker-a:1:0"))
        #expect(lines[4].contains("2s") && lines[4].contains("40,000 events written"))
        #expect(lines[5].contains("1  user-export   failed     ░░░░░░░░░░   0%  1/1") && lines[5].contains("no user ghost@example.com"))
        #expect(lines.last?.hasPrefix("n new job  c cancel  t retry  enter details") == true)
    }

    @Test("c cancels a queued job and t retries a failed one, each after a confirmation naming it, both audited")
    func cancelAndRetry() async throws {
        let fixture = try ConsoleFixture(width: 120, height: 24)
        try await seedJobs(fixture)
        await fixture.start()
        await fixture.press(.character("4"))
        await fixture.press(.character("c"))
        #expect(fixture.raw.contains("Cancel job 3 (user-export user=alice@example.com)?"))
        await fixture.press(.character("y"))
        #expect(fixture.statusLine.hasPrefix("cancelled job 3"))
        #expect(try await fixture.writer.jobs.find(id: 3)?.job.state == .cancelled)

        await fixture.press(.end)
        await fixture.press(.character("t"))
        #expect(fixture.raw.contains("Queue job 1 (user-export user=ghost@example.com) again?"))
        await fixture.press(.character("y"))
        #expect(try await fixture.writer.jobs.find(id: 1)?.job.state == .queued)
        let events = try await fixture.writer.audit.tail(limit: 50).filter { $0.action == "job.cancelled" || $0.action == "job.retried" }
        #expect(events.count == 2 && events.allSatisfy { $0.actorType == "operator" && $0.actorId == "oncall" })

        // Running jobs cannot be retried; the console says why instead of asking.
        await fixture.press(.up)
        await fixture.press(.character("t"))
        #expect(fixture.statusLine.contains("only failed or cancelled jobs can be retried"))
    }

    @Test("enter shows the job's documents and audit trail; :jobs and / filter the pane")
    func detailAndFilter() async throws {
        let fixture = try ConsoleFixture(width: 120, height: 30)
        try await seedJobs(fixture)
        await fixture.start()
        await fixture.type(":jobs report")
        await fixture.press(.enter)
        #expect(fixture.raw.contains("audit-report") && !fixture.raw.contains("user=alice"))
        await fixture.press(.enter)
        #expect(fixture.raw.contains("Job 2") && fixture.raw.contains("AUDIT TRAIL") && fixture.raw.contains("job.started"))
    }

    @Test("n opens a form; a refused request keeps the form and what was typed; a valid one starts the job, audited")
    func startFromForm() async throws {
        let fixture = try ConsoleFixture(width: 120, height: 30)
        try await fixture.login("carol@example.com")
        await fixture.start()
        await fixture.press(.down) // carol's session is selected: the form offers her address
        await fixture.press(.character("4"), .character("n"))
        #expect(fixture.raw.contains("Start a document job"))
        #expect(fixture.raw.contains("‹ user-export ›") && fixture.raw.contains("carol@example.com"))

        // Switch to an audit report and give it a range that ends before it starts.
        await fixture.press(.right)
        #expect(fixture.raw.contains("‹ audit-report ›") && fixture.raw.contains("outcome"))
        await fixture.press(.tab, .control("u"))
        await fixture.type("2026-11-05")
        await fixture.press(.tab, .control("u"))
        await fixture.type("2026-11-01")
        await fixture.press(.enter)
        #expect(fixture.raw.contains("from must be before to"))
        #expect(fixture.raw.contains("Start a document job") && fixture.raw.contains("2026-11-05"))
        #expect(try await fixture.writer.jobs.list().isEmpty)

        await fixture.press(.backTab, .control("u"))
        await fixture.type("2026-10-01")
        await fixture.press(.enter)
        #expect(!fixture.raw.contains("Start a document job"))
        #expect(fixture.statusLine.hasPrefix("started job 1 (audit-report from=2026-10-01 to=2026-11-01)"))
        let job = try #require(try await fixture.writer.jobs.find(id: 1)?.job)
        #expect(job.arguments == ["from": "2026-10-01", "to": "2026-11-01"] && job.requestedBy == "operator:oncall@203.0.113.9")
        #expect(fixture.screen.split(separator: "\n")[3].contains("audit-report  queued"))

        // Esc leaves without starting anything.
        await fixture.press(.character("n"), .escape)
        #expect(fixture.statusLine.hasPrefix("no job started"))
        #expect(try await fixture.writer.jobs.list().count == 1)
    }
}
