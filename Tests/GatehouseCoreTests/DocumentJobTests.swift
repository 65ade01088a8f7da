import Crypto
import Foundation
import GRDB
import GatehouseTestSupport
import Testing
@testable import GatehouseCore

@Suite("Document jobs")
struct DocumentJobTests {
    static let operatorActor = Actor.operator(OperatorIdentity(name: "oncall", sshClient: nil, via: "cli"))

    func worker(_ fixture: TestGatehouse) -> JobWorker {
        JobWorker(gatehouse: fixture.gatehouse, options: .init(concurrency: 2, lease: 30, pollInterval: 0.05,
                                                               dataDirectory: URL(fileURLWithPath: fixture.directory.path("documents"))))
    }

    func sha256(_ path: String) throws -> String {
        Fingerprint.hex(Array(SHA256.hash(data: try Data(contentsOf: URL(fileURLWithPath: path)))))
    }

    @Test("user-export writes JSON and Markdown with sessions, token fingerprints and the audit trail — and no secret")
    func userExport() async throws {
        let fixture = try TestGatehouse()
        let (login, pair) = try await fixture.apiLogin("alice@example.com")
        let rotated = try await fixture.gatehouse.refreshTokens.refresh(pair.refreshToken.value, context: ClientContext(ip: "198.51.100.7"))
        let (_, cookie) = try await fixture.webLogin("alice@example.com")
        _ = try await fixture.login("bob@example.com")
        let id = try await fixture.gatehouse.jobs.enqueue(JobRequest(kind: DocumentKinds.userExport, arguments: ["user": "Alice@Example.com"]),
                                                          by: Self.operatorActor).job.id
        await worker(fixture).runUntilIdle()
        let (job, outputs) = try #require(try await fixture.gatehouse.jobs.find(id: id))
        #expect(job.state == .succeeded && job.progress == 100)
        try #require(outputs.map(\.name) == ["user-export-\(id).json", "user-export-\(id).md"])
        for output in outputs {
            #expect(try sha256(output.path) == output.sha256)
            #expect(try FileManager.default.attributesOfItem(atPath: output.path)[.size] as? Int == Int(output.size))
            let mode = try FileManager.default.attributesOfItem(atPath: output.path)[.posixPermissions] as? NSNumber
            #expect(mode?.uint16Value == 0o600)
        }
        let text = try String(contentsOfFile: outputs[0].path, encoding: .utf8)
        let json = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
        #expect((json["user"] as? [String: Any])?["email"] as? String == "alice@example.com")
        #expect((json["sessions"] as? [Any])?.count == 2)
        #expect((json["refresh_tokens"] as? [Any])?.count == 2)
        #expect(((json["audit_trail"] as? [[String: Any]]) ?? []).contains { $0["action"] as? String == "refresh.rotated" })
        #expect(text.contains(pair.refreshToken.hash.fingerprint) && text.contains(login.session.handle))
        #expect(!text.contains("bob@example.com"))
        for secret in [pair.refreshToken.value, rotated.refreshToken.value, cookie.value, pair.accessToken] {
            #expect(!text.contains(secret))
            #expect(!(try String(contentsOfFile: outputs[1].path, encoding: .utf8)).contains(secret))
        }
        let markdown = try String(contentsOfFile: outputs[1].path, encoding: .utf8)
        #expect(markdown.hasPrefix("# Gatehouse data export: alice@example.com"))
        #expect(markdown.contains("## Sessions (2)"))
    }

    @Test("an export of a user that does not exist fails at once, without retries")
    func unknownUser() async throws {
        let fixture = try TestGatehouse()
        let id = try await fixture.gatehouse.jobs.enqueue(JobRequest(kind: DocumentKinds.userExport, arguments: ["user": "ghost@example.com"]),
                                                          by: Self.operatorActor).job.id
        await worker(fixture).runUntilIdle()
        let job = try #require(try await fixture.gatehouse.jobs.find(id: id)?.job)
        #expect(job.state == .failed && job.attempts == 1 && job.lastError == "no user ghost@example.com")
    }

    @Test("audit-report: the range, the filters, CSV and JSONL agree, and the range verifies; a tampered row is named", .sqliteOnly)
    func auditReport() async throws {
        let fixture = try TestGatehouse { try! $0.rateLimits.override("magic-link-ip", rate: "1000/hour") }
        let start = fixture.clock.now()
        for index in 0..<30 {
            _ = try await fixture.login("user\(index)@example.com")
            fixture.clock.advance(by: 60)
        }
        let middle = start.addingTimeInterval(10 * 60)
        let end = start.addingTimeInterval(20 * 60)
        let arguments = ["from": Timestamp.iso8601(middle), "to": Timestamp.iso8601(end), "action": "session.*"]
        let id = try await fixture.gatehouse.jobs.enqueue(JobRequest(kind: DocumentKinds.auditReport, arguments: arguments),
                                                          by: Self.operatorActor).job.id
        await worker(fixture).runUntilIdle()
        let (job, outputs) = try #require(try await fixture.gatehouse.jobs.find(id: id))
        try #require(job.state == .succeeded && outputs.count >= 2, "\(job.lastError ?? "")")
        let csv = try String(contentsOfFile: outputs[0].path, encoding: .utf8).split(separator: "\n")
        let jsonl = try String(contentsOfFile: outputs[1].path, encoding: .utf8).split(separator: "\n")
        #expect(csv.first?.hasPrefix("seq,at,actor_type") == true)
        #expect(csv.count - 1 == jsonl.count)
        #expect(jsonl.count == 10) // one session.created per login, ten logins in the window
        for line in jsonl {
            let event = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
            #expect((event["action"] as? String)?.hasPrefix("session.") == true)
            let at = try #require((event["at"] as? String).flatMap(Timestamp.parse))
            #expect(at >= middle && at < end)
        }
        let verification = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: outputs[2].path))) as? [String: Any])
        #expect(verification["intact"] as? Bool == true)
        #expect((verification["rows_verified"] as? Int ?? 0) > 10) // every row of the range, not only the filtered ones

        // Change one row inside the range behind the triggers' back.
        let seq = try #require((try JSONSerialization.jsonObject(with: Data(jsonl[3].utf8)) as? [String: Any])?["seq"] as? Int)
        try fixture.rawWrite("DROP TRIGGER audit_events_no_update; UPDATE audit_events SET ip = '192.0.2.66' WHERE seq = \(seq)")
        let again = try await fixture.gatehouse.jobs.enqueue(JobRequest(kind: DocumentKinds.auditReport, arguments: arguments),
                                                             by: Self.operatorActor).job.id
        await worker(fixture).runUntilIdle()
        let tampered = try #require(try await fixture.gatehouse.jobs.find(id: again)?.outputs.last)
        let result = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: tampered.path))) as? [String: Any])
        #expect(result["intact"] as? Bool == false)
        #expect(result["first_broken_seq"] as? Int == seq)
    }

    @Test("a running job stops at its next checkpoint when cancelled; a stopping worker puts its job back")
    func cooperativeCancelAndRelease() async throws {
        let fixture = try TestGatehouse()
        try await offPool { try SyntheticData.seed(.init(users: 10, sessions: 10, auditEvents: 60_000), into: fixture.gatehouse.database, clock: fixture.clock) }
        let report = JobRequest(kind: DocumentKinds.auditReport, arguments: ["from": "2000-01-01", "to": "2100-01-01"])
        let jobs = fixture.gatehouse.jobs

        let cancelled = try await jobs.enqueue(report, by: Self.operatorActor).job.id
        let first = worker(fixture)
        let running = Task { await first.runUntilIdle() }
        try await waitFor { try await jobs.find(id: cancelled)?.job.progress ?? 0 > 2 }
        _ = try await jobs.cancel(id: cancelled, by: Self.operatorActor)
        await running.value
        let ended = try #require(try await jobs.find(id: cancelled))
        #expect(ended.job.state == .cancelled && ended.outputs.isEmpty)
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: fixture.directory.path("documents/jobs/\(cancelled)"))
        #expect(leftovers.isEmpty, "\(leftovers)")

        let released = try await jobs.enqueue(report, by: Self.operatorActor).job.id
        let second = worker(fixture)
        let stopping = Task { await second.run() }
        try await waitFor { try await jobs.find(id: released)?.job.progress ?? 0 > 2 }
        second.stop()
        await stopping.value
        let back = try #require(try await jobs.find(id: released)?.job)
        #expect(back.state == .queued && back.attempts == 0 && back.leaseOwner == nil)
    }

    private func waitFor(_ condition: () async throws -> Bool) async throws {
        let deadline = ContinuousClock.now + .seconds(60)
        while ContinuousClock.now < deadline {
            if try await condition() { return }
            try await Task.sleep(for: .milliseconds(5))
        }
        Issue.record("condition not met within 60 s")
    }
}
