import Foundation
import GatehouseTestSupport
import Testing
@testable import GatehouseCore

@Suite("Retention")
struct RetentionTests {
    static let oncall = Actor.operator(OperatorIdentity(name: "oncall", sshClient: nil, via: "cli"))

    func run(_ test: TestGatehouse, _ policy: RetentionPolicy = RetentionPolicy()) async throws -> Job {
        let id = try await test.gatehouse.jobs.enqueueRetention(policy).job.id
        let worker = JobWorker(gatehouse: test.gatehouse, options: .init(concurrency: 1, pollInterval: 0.05,
                                                                        dataDirectory: URL(fileURLWithPath: test.directory.path("documents"))))
        await worker.runUntilIdle()
        return try #require(try await test.gatehouse.jobs.find(id: id)?.job)
    }

    func count(_ test: TestGatehouse, _ sql: String) async throws -> Int {
        try await test.gatehouse.database.read { tx in try tx.fetchScalar(Int.self, sql) ?? 0 }
    }

    @Test("expired sessions are marked; what ended before the window goes with its tokens; forensics explains a logout inside it and names the window outside")
    func removesWhatItShould() async throws {
        let test = try TestGatehouse()
        // Old: ended 100 days ago (past the 90-day window), with its refresh tokens and mail.
        let (old, oldPair) = try await test.apiLogin("old@example.com")
        // A rotated chain: the successor's parent_id names the first token (the cascade must take both).
        _ = try await test.gatehouse.refreshTokens.refresh(oldPair.refreshToken.value)
        try await test.gatehouse.sessions.revoke(handle: old.session.handle, by: Self.oncall)
        test.clock.advance(by: 10 * 86_400)
        // Idle: never used again; it expires idle after 7 days and is marked so.
        let (idle, _) = try await test.apiLogin("idle@example.com")
        test.clock.advance(by: 90 * 86_400)
        // Recent: revoked yesterday, inside the window.
        let (recent, _) = try await test.apiLogin("recent@example.com")
        test.clock.advance(by: 86_400)
        try await test.gatehouse.sessions.revoke(handle: recent.session.handle, by: Self.oncall)
        let (live, _) = try await test.apiLogin("live@example.com")

        let job = try await run(test)
        #expect(job.state == .succeeded && job.progress == 100, "\(job.lastError ?? "")")
        #expect(job.progressNote?.contains("ended sessions removed 1") == true, "\(job.progressNote ?? "")")

        #expect(try await test.gatehouse.sessions.summary(handle: old.session.handle) == nil)
        #expect(try await count(test, "SELECT count(*) FROM refresh_tokens WHERE session_id = \(old.session.id)") == 0)
        let idleNow = try #require(try await test.gatehouse.sessions.summary(handle: idle.session.handle))
        #expect(idleNow.session.state == .expired && idleNow.session.endReason == "expired_idle")
        #expect(try await test.gatehouse.sessions.summary(handle: live.session.handle)?.session.state == .active)
        // The old user's mail (101 days) is gone; the recent one's stays.
        #expect(try await count(test, "SELECT count(*) FROM outbox WHERE recipient = 'old@example.com'") == 0)
        #expect(try await count(test, "SELECT count(*) FROM outbox WHERE recipient = 'recent@example.com'") == 1)

        // Inside the window the logout is still explained; outside it the answer says why it cannot be.
        let story = try await test.gatehouse.forensics.explain(.session(handle: recent.session.handle))
        #expect(story.verdict.cause == .revokedByOperator)
        do {
            _ = try await test.gatehouse.forensics.explain(.session(handle: old.session.handle))
            Issue.record("a removed session was explained")
        } catch let error as AuthError {
            #expect(error.description.contains("removed after 90 days"), "\(error.description)")
        }
        // Each step audited once, with its count.
        let applied = try await test.gatehouse.audit.tail(limit: 50).filter { $0.action == "retention.applied" }
        #expect(applied.map { $0.targetId ?? "" } == ["sessions_expired", "ended_sessions_removed", "outbox_removed", "magic_links_removed",
                                                      "finished_jobs_removed"])
        #expect(try await test.gatehouse.audit.verify().isIntact)
    }

    @Test("0 keeps a kind; a second run finds nothing; finished jobs go with their files")
    func keepsAndJobs() async throws {
        let test = try TestGatehouse()
        let (login, _) = try await test.apiLogin("keep@example.com")
        try await test.gatehouse.sessions.revoke(handle: login.session.handle, by: Self.oncall)
        let export = try await test.gatehouse.jobs.enqueue(JobRequest(kind: DocumentKinds.userExport, arguments: ["user": "keep@example.com"]),
                                                           by: Self.oncall).job.id
        let worker = JobWorker(gatehouse: test.gatehouse, options: .init(concurrency: 1, pollInterval: 0.05,
                                                                        dataDirectory: URL(fileURLWithPath: test.directory.path("documents"))))
        await worker.runUntilIdle()
        let files = try #require(try await test.gatehouse.jobs.find(id: export)?.outputs).map(\.path)
        #expect(!files.isEmpty && files.allSatisfy { FileManager.default.fileExists(atPath: $0) })
        test.clock.advance(by: 200 * 86_400)
        var keepSessions = RetentionPolicy()
        keepSessions.endedSessionDays = 0
        _ = try await run(test, keepSessions)
        #expect(try await test.gatehouse.sessions.summary(handle: login.session.handle) != nil)
        #expect(try await test.gatehouse.jobs.find(id: export) == nil)
        #expect(files.allSatisfy { !FileManager.default.fileExists(atPath: $0) })
        let second = try await run(test, keepSessions)
        // The first run finished moments ago: inside the window, kept.
        #expect(second.progressNote?.contains("ended sessions removed") == false && second.progressNote?.contains("finished jobs removed 0") == true,
                "\(second.progressNote ?? "")")
    }

    @Test("with audit_archive_days the retention job archives old audit rows, signs the cut, and the whole chain still verifies")
    func archivesAudit() async throws {
        let test = try TestGatehouse()
        for index in 0..<3 { _ = try await test.apiLogin("a\(index)@example.com") }
        test.clock.advance(by: 400 * 86_400)
        _ = try await test.apiLogin("recent@example.com")
        let key = test.directory.path("audit.key")
        _ = try CheckpointKey.create(path: key)
        var policy = RetentionPolicy()
        policy.auditArchiveDays = 365
        policy.archiveDirectory = test.directory.path("archives")
        policy.checkpointKey = key
        policy.checkpointDirectory = test.directory.path("checkpoints")
        let job = try await run(test, policy)
        #expect(job.state == .succeeded && job.progressNote?.contains("audit archived") == true, "\(job.lastError ?? job.progressNote ?? "")")
        let archived = try #require(try await test.gatehouse.audit.archives().first)
        let whole = try await test.gatehouse.audit.verify(archivesIn: test.directory.path("archives"))
        #expect(whole.isIntact && whole.archivedThrough == archived.lastSeq, "\(whole)")
        let report = try await test.gatehouse.audit.verify(checkpoints: try CheckpointFile(directory: test.directory.path("checkpoints")).read(),
                                                           publicKey: try CheckpointPublicKey.load(path: key + ".pub"))
        #expect(report.isIntact && report.newest?.seq == archived.lastSeq, "\(report.problems)")
    }
}
