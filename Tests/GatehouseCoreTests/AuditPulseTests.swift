import Foundation
import GatehouseTestSupport
import Testing
@testable import GatehouseCore

/// The per-minute rollup kept with the audit log, the pulse read from it, the Audit pane's scope,
/// and revoking everything issued before a time.
@Suite("Audit pulse and revoke-before")
struct AuditPulseTests {
    static let oncall = Actor.operator(OperatorIdentity(name: "oncall", sshClient: nil, via: "cli"))

    func rows(_ test: TestGatehouse, _ sql: String) async throws -> [[SQLValue]] {
        try await test.gatehouse.database.read { tx in try tx.fetchAll(sql).map(\.values) }
    }

    @Test("the rollup equals the log counted per minute, action and coded reason; throttled events are counted as unrecorded")
    func rollupMatchesTheLog() async throws {
        let test = try TestGatehouse { try! $0.rateLimits.override("audit-failures", rate: "3/minute") }
        for minute in 0..<4 {
            for _ in 0...minute { _ = try await test.apiLogin("u\(minute)@example.com") }
            for _ in 0..<(minute * 2) { _ = try? await test.gatehouse.refreshTokens.refresh(SecretToken.generate().value, context: ClientContext(ip: "203.0.113.1")) }
            test.clock.advance(by: 60)
        }
        let minute = test.gatehouse.database.dialect == .postgres ? "floor(at / 60)::bigint" : "CAST(at / 60 AS INTEGER)"
        let fromLog = try await rows(test, """
            SELECT \(minute), action, CASE WHEN action = 'refresh.failed' THEN reason ELSE '' END, count(*)
            FROM audit_events GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
            """)
        // Recorded events are counted in shard 0; those the throttle left out in shards of their own.
        let rollup = try await rows(test, "SELECT minute, action, reason, count FROM audit_minutes WHERE shard = 0 ORDER BY 1, 2, 3")
        #expect(rollup == fromLog)
        #expect(try await rows(test, "SELECT count(*) FROM audit_minutes WHERE shard = 0 AND unrecorded > 0 OR shard > 0 AND count <> unrecorded") == [[.int(0)]])
        // Minute 3: six refusals from one address, three of them past the audit throttle (3 a
        // minute); minute 2 had four, one past it.
        let refused = try await rows(test, """
            SELECT CAST(sum(count) AS BIGINT), CAST(sum(unrecorded) AS BIGINT) FROM audit_minutes WHERE action = 'refresh.failed'
            GROUP BY minute ORDER BY minute DESC LIMIT 1
            """)
        #expect(refused == [[.int(6), .int(3)]])
        let pulse = try await test.gatehouse.audit.pulse()
        let line = try #require(pulse.lines.first { $0.series.label == "refused: unknown" })
        #expect(line.counts.suffix(5) == [0, 2, 4, 6, 0] && line.unrecorded == 4, "\(line)")
        // Points of two minutes end with the current one: [3, 4], [1, 2], [-1, 0].
        let coarse = try await test.gatehouse.audit.pulse(span: 60, minutesPerPoint: 2)
        #expect(coarse.points == 30 && coarse.lines.first { $0.series.label == "refused: unknown" }?.counts.suffix(3) == [0, 6, 6])
        #expect(pulse.offenders.filter { $0.kind == .address } == [AuditPulse.Offender(kind: .address, key: "203.0.113.1", count: 8)])
    }

    @Test("offenders: the refused address, the user a refused session belongs to, the bucket a 429 came from")
    func offenders() async throws {
        let test = try TestGatehouse { try! $0.rateLimits.override("magic-link-email", rate: "2/minute") }
        for _ in 0..<5 { _ = try? await test.gatehouse.magicLinks.requestMagicLink(email: "flood@example.com", context: ClientContext(ip: "203.0.113.9")) }
        let (login, pair) = try await test.apiLogin("owner@example.com")
        try await test.gatehouse.sessions.revoke(handle: login.session.handle, by: Self.oncall)
        // A revoked session's token is refused against that session, and so against its user.
        _ = try? await test.gatehouse.refreshTokens.refresh(pair.refreshToken.value, context: ClientContext(ip: "192.0.2.1"))
        let pulse = try await test.gatehouse.audit.pulse()
        let byKind = Dictionary(grouping: pulse.offenders, by: \.kind)
        #expect(byKind[.bucket] == [AuditPulse.Offender(kind: .bucket, key: "magic-link-email:flood@example.com", count: 3)])
        #expect(byKind[.user]?.map(\.key) == ["flood@example.com", "owner@example.com"], "\(pulse.offenders)")
        #expect(byKind[.address]?.map(\.key) == ["203.0.113.9", "192.0.2.1"])
    }

    @Test("a scope lists exactly one action's events of one minute, newest first, paged")
    func scope() async throws {
        let test = try TestGatehouse()
        var handles: [[String]] = []
        for minute in 0..<3 {
            var inMinute: [String] = []
            for index in 0..<5 { inMinute.append(try await test.apiLogin("m\(minute)i\(index)@example.com").0.session.handle) }
            handles.append(inMinute)
            test.clock.advance(by: 60)
        }
        let start = Date(timeIntervalSince1970: (test.clock.now().timeIntervalSince1970 / 60).rounded(.down) * 60 - 120)
        let scope = AuditScope(actions: ["session.created"], from: start, label: "logins")
        let first = try await test.gatehouse.audit.list(scope: scope, limit: 3)
        #expect(first.map(\.targetId) == handles[1].reversed().prefix(3).map { Optional($0) })
        let next = try await test.gatehouse.audit.list(scope: scope, limit: 3, page: .after(AuditLog.pageKey(try #require(first.last))))
        #expect(next.map(\.targetId) == handles[1].prefix(2).reversed().map { Optional($0) })
        let none = AuditScope(actions: ["mail.failed"], from: start, label: "mail failed")
        #expect(try await test.gatehouse.audit.list(scope: none).isEmpty)
    }

    @Test("revoke-before for one user leaves the sessions created since; for everyone revokes all older ones; one audit row each and a summary")
    func revokeBefore() async throws {
        let test = try TestGatehouse()
        let (aliceOld, _) = try await test.apiLogin("alice@example.com")
        let (bobOld, _) = try await test.apiLogin("bob@example.com")
        test.clock.advance(by: 60)
        let cutoff = test.clock.now()
        test.clock.advance(by: 1)
        let (aliceNew, _) = try await test.apiLogin("alice@example.com")

        #expect(try await test.gatehouse.sessions.countActive(issuedBefore: cutoff, email: "alice@example.com") == 1)
        #expect(try await test.gatehouse.sessions.revoke(issuedBefore: cutoff, email: "alice@example.com", by: Self.oncall) == 1)
        func state(_ login: Login) async throws -> Session.State? { try await test.gatehouse.sessions.summary(handle: login.session.handle)?.session.state }
        let states = [try await state(aliceOld), try await state(aliceNew), try await state(bobOld)]
        #expect(states == [.revoked, .active, .active])

        #expect(try await test.gatehouse.sessions.revoke(issuedBefore: cutoff, email: nil, by: Self.oncall) == 1)
        let after = [try await state(bobOld), try await state(aliceNew)]
        #expect(after == [.revoked, .active])
        let actions = try await test.auditActions().filter { $0.hasPrefix("session.revoked") || $0 == "sessions.revoked_before" }
        #expect(actions == ["session.revoked", "sessions.revoked_before", "session.revoked", "sessions.revoked_before"])
        await #expect(throws: AuthError.self) { try await test.gatehouse.sessions.countActive(issuedBefore: cutoff, email: "nobody@example.com") }
    }

    @Test("CLI: --issued-before --all asks for the word 'all' (refused without it and without a terminal); --user asks y/N")
    func revokeBeforeCLI() async throws {
        let test = try TestGatehouse(realTime: true)
        _ = try await test.apiLogin("alice@example.com")
        _ = try await test.apiLogin("bob@example.com")
        // A whole second after the logins, and passed before the commands run (a time to come is refused).
        let cutoffDate = Date(timeIntervalSince1970: (test.clock.now().timeIntervalSince1970 + 1).rounded(.up))
        let cutoff = Timestamp.iso8601(cutoffDate)
        while Date() <= cutoffDate { try await Task.sleep(for: .milliseconds(20)) }

        let refused = try await GatehouseBinary.run(["sessions", "revoke", "--issued-before", cutoff, "--all", "--yes", "--db", test.path])
        #expect(refused.status == 2 && refused.stderr.contains("--confirm all"), "\(refused.stderr)")
        let wrong = try await GatehouseBinary.run(["sessions", "revoke", "--issued-before", cutoff, "--all", "--confirm", "al", "--db", test.path])
        #expect(wrong.status == 2 && wrong.stderr.contains("does not match"), "\(wrong.stderr)")
        let usage = try await GatehouseBinary.run(["sessions", "revoke", "--issued-before", "yesterday", "--all", "--db", test.path])
        #expect(usage.status != 0 && usage.stderr.contains("not an ISO 8601 time"), "\(usage.stderr)")
        let future = try await GatehouseBinary.run(["sessions", "revoke", "--issued-before", "2999-01-01", "--all", "--confirm", "all", "--db", test.path])
        #expect(future.status != 0 && future.stderr.contains("is in the future"), "\(future.stderr)")
        #expect(try await test.gatehouse.sessions.countActive(issuedBefore: Date.distantFuture, email: nil) == 2)

        let user = try await GatehouseBinary.run(["sessions", "revoke", "--issued-before", cutoff, "--user", "alice@example.com", "--yes", "--json",
                                                  "--db", test.path])
        #expect(user.status == 0, "\(user.stderr)")
        let shape = try JSONSerialization.jsonObject(with: Data(user.stdout.utf8)) as? [String: Any]
        #expect(shape?["revoked"] as? Int == 1 && shape?["user"] as? String == "alice@example.com" && shape?["issued_before"] as? String == cutoff)
        let all = try await GatehouseBinary.run(["sessions", "revoke", "--issued-before", cutoff, "--all", "--confirm", "all", "--db", test.path])
        #expect(all.status == 0 && all.stdout.contains("revoked 1 session(s) created before"), "\(all.stdout)\(all.stderr)")
        #expect(try await test.gatehouse.sessions.countActive(issuedBefore: Date.distantFuture, email: nil) == 0)
    }
}
