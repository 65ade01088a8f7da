import Foundation
import GRDB
import GatehouseTestSupport
import Testing
@testable import GatehouseCore

@Suite("Job queue")
struct JobQueueTests {
    static let operatorActor = Actor.operator(OperatorIdentity(name: "oncall", sshClient: "203.0.113.9", via: "cli"))

    func export(_ fixture: TestGatehouse, _ email: String = "alice@example.com", priority: Int = 0, uniqueKey: String? = nil,
                maxAttempts: Int = 5) async throws -> JobQueue.Enqueued {
        try await fixture.gatehouse.jobs.enqueue(JobRequest(kind: DocumentKinds.userExport, arguments: ["user": email], priority: priority,
                                                            uniqueKey: uniqueKey, maxAttempts: maxAttempts), by: Self.operatorActor)
    }

    @Test("claims go by priority, then run-at, then age; a claimed job is nobody else's")
    func claimOrder() async throws {
        let fixture = try TestGatehouse()
        let jobs = fixture.gatehouse.jobs
        let low = try await export(fixture, priority: 0).job
        let high = try await export(fixture, priority: 5).job
        let later = try await jobs.enqueue(JobRequest(kind: DocumentKinds.userExport, arguments: ["user": "b@example.com"], priority: 9,
                                                      runAt: fixture.clock.now().addingTimeInterval(60)), by: Self.operatorActor).job
        #expect(try await jobs.claim(worker: "w1", lease: 30)?.id == high.id)
        #expect(try await jobs.claim(worker: "w2", lease: 30)?.id == low.id)
        #expect(try await jobs.claim(worker: "w3", lease: 30) == nil) // `later` is not due yet
        fixture.clock.advance(by: 61)
        let claimed = try #require(try await jobs.claim(worker: "w3", lease: 30))
        #expect(claimed.id == later.id && claimed.state == .running && claimed.attempts == 1 && claimed.leaseOwner == "w3")
    }

    @Test("documents go beside an SQLite file, or under the data home for PostgreSQL: never into the working directory")
    func defaultDocumentFolder() throws {
        let fixture = try TestGatehouse()
        let folder = JobWorker.Options.defaultDataDirectory(for: fixture.gatehouse.database, environment: ["XDG_DATA_HOME": "/srv/data"])
        if TestEngine.isSQLite {
            #expect(folder.path == fixture.path + "-documents")
        } else {
            #expect(folder.deletingLastPathComponent().path == "/srv/data/gatehouse/documents", "\(folder.path)")
            #expect(folder.lastPathComponent.hasPrefix("t_gatehouse_") && !folder.lastPathComponent.contains("/"))
        }
    }

    @Test("a unique key names one waiting or running job; after it finishes the key is free again")
    func uniqueKeys() async throws {
        let fixture = try TestGatehouse()
        let first = try await export(fixture, uniqueKey: "export:alice")
        let second = try await export(fixture, uniqueKey: "export:alice")
        #expect(!first.deduplicated && second.deduplicated && second.job.id == first.job.id)
        let claimed = try #require(try await fixture.gatehouse.jobs.claim(worker: "w", lease: 30))
        #expect(try await export(fixture, uniqueKey: "export:alice").job.id == first.job.id) // still running
        try await fixture.gatehouse.jobs.complete(id: claimed.id, worker: "w", outputs: [])
        let third = try await export(fixture, uniqueKey: "export:alice")
        #expect(!third.deduplicated && third.job.id != first.job.id)
    }

    @Test("a retry that races an enqueue of its unique key is refused as wrongState, never a raw constraint error", .postgresOnly)
    func retryRacesEnqueue() async throws {
        let fixture = try TestGatehouse()
        let jobs = fixture.gatehouse.jobs
        let id = try await export(fixture, uniqueKey: "export:alice", maxAttempts: 1).job.id
        _ = try #require(try await jobs.claim(worker: "w", lease: 30))
        #expect(try await jobs.fail(id: id, worker: "w", error: "disk on fire") == .failed)

        // Another connection enqueues the same key and holds its transaction open.
        let other = try GatehouseDatabase.open(path: fixture.path, options: TestEngine.options())
        defer { try? other.close() }
        let (inserted, commit) = (DispatchSemaphore(value: 0), DispatchSemaphore(value: 0))
        let holder = Task {
            try await other.write { tx in
                try tx.execute("""
                    INSERT INTO jobs (kind, arguments, state, unique_key, run_at, requested_by, created_at)
                    VALUES (?, '{}', 'queued', 'export:alice', 0, 'test', 0)
                    """, [DocumentKinds.userExport])
                inserted.signal()
                commit.wait()
            }
        }
        // Bounded, so that a holder that failed before inserting fails the test instead of hanging it.
        var held = false
        let insertDeadline = ContinuousClock.now + .seconds(60)
        while !held && ContinuousClock.now < insertDeadline {
            held = inserted.wait(timeout: .now()) == .success
            if !held { try await Task.sleep(for: .milliseconds(10)) }
        }
        guard held else {
            commit.signal()
            _ = try await holder.value
            Issue.record("the other connection never inserted its job")
            return
        }
        // The retry's check cannot see the uncommitted job; its UPDATE then waits on the key.
        let retry = Task { try await jobs.retry(id: id, by: Self.operatorActor) }
        var waiting = false
        let deadline = ContinuousClock.now + .seconds(60)
        while !waiting && ContinuousClock.now < deadline {
            waiting = try await fixture.gatehouse.database.read { tx in
                try tx.fetchScalar(Int64.self, "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'") ?? 0
            } > 0
            if !waiting { try await Task.sleep(for: .milliseconds(10)) }
        }
        #expect(waiting, "the retry never waited on the other enqueue")
        commit.signal()
        try await holder.value
        await #expect(throws: JobError.self) { try await retry.value }
        #expect(try await jobs.find(id: id)?.job.state == .failed)
    }

    @Test("a failed attempt is retried after attempt⁴ seconds plus jitter, and fails for good after the last")
    func backoff() async throws {
        let fixture = try TestGatehouse()
        let jobs = fixture.gatehouse.jobs
        let id = try await export(fixture, maxAttempts: 3).job.id
        for attempt in 1...3 {
            let claimed = try #require(try await jobs.claim(worker: "w", lease: 30), "attempt \(attempt)")
            #expect(claimed.attempts == attempt)
            let state = try await jobs.fail(id: id, worker: "w", error: "disk on fire")
            if attempt == 3 {
                #expect(state == .failed)
                break
            }
            #expect(state == .queued)
            let job = try #require(try await jobs.find(id: id)?.job)
            let delay = job.runAt.timeIntervalSince(fixture.clock.now())
            let base = pow(Double(attempt), 4)
            #expect(delay >= base && delay <= base * 1.1 + 1, "attempt \(attempt): \(delay)")
            #expect(try await jobs.claim(worker: "w", lease: 30) == nil)
            fixture.clock.advance(by: delay + 0.001)
        }
        let job = try #require(try await jobs.find(id: id)?.job)
        #expect(job.state == .failed && job.lastError == "disk on fire" && job.attempts == 3)
        let actions = try await fixture.auditActions()
        #expect(actions.filter { $0 == "job.retry_scheduled" }.count == 2 && actions.contains("job.failed"))
    }

    @Test("a lease that is not renewed expires: another worker gets the job after the backoff")
    func leaseExpiry() async throws {
        let fixture = try TestGatehouse()
        let jobs = fixture.gatehouse.jobs
        let id = try await export(fixture).job.id
        _ = try #require(try await jobs.claim(worker: "killed", lease: 10))
        fixture.clock.advance(by: 5)
        #expect(try await jobs.heartbeat(id: id, worker: "killed", lease: 10) == .held(cancelRequested: false))
        fixture.clock.advance(by: 11) // no heartbeat for 11 s
        #expect(try await jobs.claim(worker: "survivor", lease: 10) == nil) // re-queued, backoff 1 s+
        fixture.clock.advance(by: 3)
        let reclaimed = try #require(try await jobs.claim(worker: "survivor", lease: 10))
        #expect(reclaimed.id == id && reclaimed.attempts == 2)
        // The dead worker's late calls change nothing.
        #expect(try await jobs.heartbeat(id: id, worker: "killed", lease: 10) == .lost)
        #expect(try await jobs.complete(id: id, worker: "killed", outputs: []) == false)
        #expect(try await fixture.auditActions().contains("job.lease_expired"))
    }

    @Test("a claim never reaps the lease of a job its own process is running, however late the heartbeat; another process's claim does")
    func ownLeaseSpared() async throws {
        let fixture = try TestGatehouse()
        let jobs = fixture.gatehouse.jobs
        let id = try await export(fixture).job.id
        _ = try await export(fixture, "b@example.com")
        _ = try #require(try await jobs.claim(worker: "host:1:0", lease: 10))
        fixture.clock.advance(by: 30) // the slot's heartbeat is 20 s late
        let other = try #require(try await jobs.claim(worker: "host:1:1", lease: 10, running: [id]))
        #expect(other.id != id)
        #expect(try await jobs.heartbeat(id: id, worker: "host:1:0", lease: 10) == .held(cancelRequested: false))
        fixture.clock.advance(by: 30)
        #expect(try await jobs.claim(worker: "other:2:0", lease: 10) == nil) // both leases reaped, backoff pending
        #expect(try await jobs.heartbeat(id: id, worker: "host:1:0", lease: 10) == .lost)
    }

    @Test("cancel: a queued job at once, a running one at its next checkpoint; retry puts either back")
    func cancelAndRetry() async throws {
        let fixture = try TestGatehouse()
        let jobs = fixture.gatehouse.jobs
        let queued = try await export(fixture, "a@example.com").job
        #expect(try await jobs.cancel(id: queued.id, by: Self.operatorActor).state == .cancelled)
        let running = try await export(fixture, "b@example.com").job
        _ = try #require(try await jobs.claim(worker: "w", lease: 30))
        let asked = try await jobs.cancel(id: running.id, by: Self.operatorActor)
        #expect(asked.state == .running && asked.cancelRequested)
        #expect(try await jobs.heartbeat(id: running.id, worker: "w", lease: 30) == .held(cancelRequested: true))
        try await jobs.acknowledgeCancel(id: running.id, worker: "w")
        #expect(try await jobs.find(id: running.id)?.job.state == .cancelled)
        await #expect(throws: JobError.self) { try await jobs.cancel(id: running.id, by: Self.operatorActor) }

        let retried = try await jobs.retry(id: running.id, by: Self.operatorActor)
        #expect(retried.state == .queued && retried.attempts == 0 && !retried.cancelRequested)
        await #expect(throws: JobError.self) { try await jobs.retry(id: running.id, by: Self.operatorActor) }
        let actions = try await fixture.auditActions()
        for action in ["job.enqueued", "job.started", "job.cancel_requested", "job.cancelled", "job.retried"] {
            #expect(actions.contains(action), "\(action)")
        }
        let retriedEvent = try await fixture.gatehouse.audit.events(targetType: "job", targetId: String(running.id)).last
        #expect(retriedEvent?.actorId == "oncall")
    }

    @Test("arguments are checked when the job is queued, not when it runs")
    func validation() async throws {
        let fixture = try TestGatehouse()
        let cases: [(String, [String: String])] = [
            ("user-export", [:]), ("user-export", ["user": "not an email"]), ("user-export", ["user": "a@example.com", "x": "1"]),
            ("audit-report", ["from": "2026-01-01"]), ("audit-report", ["from": "yesterday", "to": "2026-01-01"]),
            ("audit-report", ["from": "2026-02-01", "to": "2026-01-01"]), ("nope", [:]),
        ]
        for (kind, arguments) in cases {
            await #expect(throws: JobError.self, "\(kind) \(arguments)") {
                try await fixture.gatehouse.jobs.enqueue(JobRequest(kind: kind, arguments: arguments), by: Self.operatorActor)
            }
        }
    }
}
