import Foundation
import GRDB
import GatehouseTestSupport
import Testing
@testable import GatehouseCore

/// Workers as separate `gatehouse worker` processes on one file, as they run in production.
@Suite("Job workers (real processes)")
struct JobProcessTests {
    static let operatorActor = Actor.operator(OperatorIdentity(name: "oncall", sshClient: nil, via: "cli"))

    /// Peak resident memory (VmHWM, MB) of a process, sampled until it exits.
    static func peakMemory(of process: Subprocess) async -> (Double, Subprocess.Result) {
        var peak = 0.0
        while kill(process.pid, 0) == 0,
              let status = try? String(contentsOfFile: "/proc/\(process.pid)/status", encoding: .utf8),
              !status.contains("State:\tZ") {
            if let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }),
               let kilobytes = Double(line.split(whereSeparator: { $0 == " " || $0 == "\t" })[1]) {
                peak = max(peak, kilobytes / 1024)
            }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return (peak, process.wait())
    }

    @Test("two worker processes never run the same job")
    func noDoubleClaims() async throws {
        let fixture = try TestGatehouse(realTime: true)
        _ = try await fixture.login("alice@example.com")
        var ids: [Int64] = []
        for _ in 0..<40 {
            ids.append(try await fixture.gatehouse.jobs.enqueue(JobRequest(kind: DocumentKinds.userExport, arguments: ["user": "alice@example.com"]),
                                                                by: Self.operatorActor).job.id)
        }
        let arguments = ["worker", "--db", fixture.path, "--until-idle", "--concurrency", "3", "--poll", "0.01",
                         "--data-dir", fixture.directory.path("documents")]
        let workers = try (0..<2).map { _ in try GatehouseBinary.start(arguments) }
        var results: [Subprocess.Result] = []
        for worker in workers { results.append(await worker.exit()) }
        #expect(results.allSatisfy { $0.status == 0 }, "\(results.map(\.stderr))")
        for id in ids {
            let job = try #require(try await fixture.gatehouse.jobs.find(id: id)?.job)
            #expect(job.state == .succeeded && job.attempts == 1, "job \(id): \(job.state) after \(job.attempts)")
            let started = try await fixture.gatehouse.audit.events(targetType: "job", targetId: String(id)).filter { $0.action == "job.started" }
            #expect(started.count == 1, "job \(id) started \(started.count) times")
        }
    }

    @Test("a worker killed with SIGKILL mid-job: another worker finishes the job after the lease expires")
    func takeOverAfterKill() async throws {
        let fixture = try TestGatehouse(realTime: true)
        try await offPool { try SyntheticData.seed(.init(users: 10, sessions: 10, auditEvents: 150_000), into: fixture.gatehouse.database) }
        let id = try await fixture.gatehouse.jobs.enqueue(
            JobRequest(kind: DocumentKinds.auditReport, arguments: ["from": "2000-01-01", "to": "2100-01-01"]), by: Self.operatorActor).job.id
        // A lease of 10 s, not 2: on a loaded machine a live worker's heartbeat (every third of
        // the lease) can run late by more than a 2 s lease allows, and the test is about a dead one.
        let common = ["worker", "--db", fixture.path, "--lease", "10", "--poll", "0.05", "--data-dir", fixture.directory.path("documents")]
        let doomed = try GatehouseBinary.start(common)
        let started = try await eventually(every: .milliseconds(10)) { (try await fixture.gatehouse.jobs.find(id: id)?.job.progress ?? 0) >= 3 }
        #expect(started, "the worker never got 3% into the report")
        doomed.signal(SIGKILL)
        _ = await doomed.exit()
        let interrupted = try #require(try await fixture.gatehouse.jobs.find(id: id)?.job)
        #expect(interrupted.state == .running && interrupted.progress < 100, "the job should have been killed mid-way")

        let rescuer = try GatehouseBinary.start(common)
        _ = try await eventually { try await fixture.gatehouse.jobs.find(id: id)?.job.state == .succeeded }
        rescuer.terminate()
        #expect(await rescuer.exit().status == 0)
        let (job, outputs) = try #require(try await fixture.gatehouse.jobs.find(id: id))
        let actions = try await fixture.gatehouse.audit.events(targetType: "job", targetId: String(id)).map(\.action)
        #expect(job.state == .succeeded && job.attempts == 2, "\(job.state) after \(job.attempts) attempts, run at \(job.runAt), \(job.lastError ?? "no error"); \(actions)")
        #expect(actions.contains("job.lease_expired") && actions.filter { $0 == "job.started" }.count == 2)
        try #require(outputs.count == 3)
        let lines = try String(contentsOfFile: outputs[1].path, encoding: .utf8).split(separator: "\n").count
        #expect(lines >= 150_000)
    }

    @Test("SIGTERM: the worker stops claiming, its running job goes back to the queue, and it exits 0")
    func gracefulStop() async throws {
        let fixture = try TestGatehouse(realTime: true)
        try await offPool { try SyntheticData.seed(.init(users: 1, sessions: 0, auditEvents: 150_000), into: fixture.gatehouse.database) }
        let id = try await fixture.gatehouse.jobs.enqueue(
            JobRequest(kind: DocumentKinds.auditReport, arguments: ["from": "2000-01-01", "to": "2100-01-01"]), by: Self.operatorActor).job.id
        let worker = try GatehouseBinary.start(["worker", "--db", fixture.path, "--data-dir", fixture.directory.path("documents")])
        let started = try await eventually(every: .milliseconds(10)) { (try await fixture.gatehouse.jobs.find(id: id)?.job.progress ?? 0) >= 3 }
        #expect(started, "the worker never got 3% into the report")
        worker.terminate()
        let result = await worker.exit()
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("put back in the queue"))
        let job = try #require(try await fixture.gatehouse.jobs.find(id: id)?.job)
        #expect(job.state == .queued && job.attempts == 0 && job.leaseOwner == nil)
        #expect(try await fixture.gatehouse.audit.events(targetType: "job", targetId: String(id)).map(\.action).contains("job.released"))
    }

    @Test("an audit report over a million events keeps memory flat (the same peak as over 100,000)")
    func flatMemory() async throws {
        let fixture = try TestGatehouse(realTime: true)
        let report = JobRequest(kind: DocumentKinds.auditReport, arguments: ["from": "2000-01-01", "to": "2100-01-01"])
        let command = ["worker", "--db", fixture.path, "--until-idle", "--concurrency", "1", "--data-dir", fixture.directory.path("documents")]
        var peaks: [Double] = []
        for events in [100_000, 900_000] {
            try await offPool { try SyntheticData.seed(.init(users: 1, sessions: 0, auditEvents: events), into: fixture.gatehouse.database) }
            let id = try await fixture.gatehouse.jobs.enqueue(report, by: Self.operatorActor).job.id
            let (peak, result) = await Self.peakMemory(of: try GatehouseBinary.start(command))
            #expect(result.status == 0, "\(result.stderr)")
            let (job, outputs) = try #require(try await fixture.gatehouse.jobs.find(id: id))
            #expect(job.state == .succeeded, "\(job.lastError ?? "")")
            let verification = try String(contentsOfFile: outputs[2].path, encoding: .utf8)
            #expect(verification.contains("\"intact\":true"))
            peaks.append(peak)
        }
        // Ten times the rows, about the same memory: nothing grows with the report.
        #expect(peaks[1] < peaks[0] + 20, "peak \(peaks[0]) MB for 100k events, \(peaks[1]) MB for 1M")
        #expect(peaks[1] < 150, "peak \(peaks[1]) MB")
        print("audit-report peak memory: \(peaks[0]) MB over 100k events, \(peaks[1]) MB over 1M")
    }
}
