import Foundation
import GatehouseTestSupport
import Testing
@testable import GatehouseCore

/// The seam (docs/engines.md): a rule written once over `SQLTransaction` runs on SQLite and on
/// a real PostgreSQL, and holds there with several connections writing at once.
@Suite("Engine seam: GCRA and the audit chain on SQLite and PostgreSQL")
struct EngineSeamTests {
    /// A throwaway server with Gatehouse's schema (created by opening it, as `init` does).
    static func postgres() async throws -> (PostgresCluster, GatehouseDatabase) {
        let cluster = try await PostgresCluster.start()
        // Opening runs the migrations: some fifty round trips, off the cooperative pool too.
        return (cluster, try await offPool { try GatehouseDatabase.open(path: cluster.url(), options: TestEngine.options(createIfMissing: true)) })
    }

    @Test("the dialect renders ? and ?N as $n for PostgreSQL and leaves quoted text alone")
    func dialect() {
        #expect(SQLDialect.postgres.render("SELECT a FROM t WHERE b = ? AND c = ?") == "SELECT a FROM t WHERE b = $1 AND c = $2")
        #expect(SQLDialect.postgres.render("VALUES (?1, ?2) ON CONFLICT DO UPDATE SET x = ?2") == "VALUES ($1, $2) ON CONFLICT DO UPDATE SET x = $2")
        #expect(SQLDialect.postgres.render("SELECT '?', \"a?b\" WHERE x = ?") == "SELECT '?', \"a?b\" WHERE x = $1")
        #expect(SQLDialect.sqlite.render("SELECT ?") == "SELECT ?")
    }

    @Test("SQLite through the seam: the same decisions as before (5/minute: five allowed, then blocked)")
    func sqlite() async throws {
        let test = try TestGatehouse()
        let policy = RateLimitPolicy(name: "seam", limit: 5, period: 60)
        var allowed = 0
        for _ in 0..<8 where try await test.gatehouse.rateLimits.check(policy, key: "k").allowed { allowed += 1 }
        #expect(allowed == 5)
        let bucket = try #require(try await test.gatehouse.rateLimits.bucket(key: "seam:k"))
        #expect(bucket.allowedTotal == 5 && bucket.blockedTotal == 3)
    }

    @Test("PostgreSQL: 200 checks of one bucket from 8 tasks over 4 connections let exactly the allowance through",
          .enabled(if: PostgresCluster.testsRun, "skipped: \(PostgresCluster.unavailableReason ?? "")"))
    func postgresConcurrent() async throws {
        let (cluster, engine) = try await Self.postgres()
        defer { try? engine.close(); cluster.stop() }
        let policy = RateLimitPolicy(name: "seam", limit: 50, period: 3600)
        let now = Date()
        let decisions = try await withThrowingTaskGroup(of: Int.self) { group in
            for _ in 0..<8 {
                group.addTask {
                    var allowed = 0
                    for _ in 0..<25 {
                        let decision = try await engine.write { transaction in
                            try RateLimiter.consume(policy: policy, key: "shared", in: transaction, at: now)
                        }
                        if decision.allowed { allowed += 1 }
                    }
                    return allowed
                }
            }
            return try await group.reduce(0, +)
        }
        #expect(decisions == 50)
        let totals = try await engine.write { transaction in
            try transaction.fetchOne("SELECT allowed_total, blocked_total FROM rate_limit_buckets WHERE key = ?", ["seam:shared"])
        }
        #expect(totals?[0].int == 50 && totals?[1].int == 150, "\(String(describing: totals))")
    }

    @Test("PostgreSQL: 200 audit appends from 8 tasks over 4 connections make one chain: seq 1…200, each row hashed on the one before",
          .enabled(if: PostgresCluster.testsRun, "skipped: \(PostgresCluster.unavailableReason ?? "")"))
    func postgresAuditChain() async throws {
        let (cluster, engine) = try await Self.postgres()
        defer { try? engine.close(); cluster.stop() }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for task in 0..<8 {
                group.addTask {
                    for index in 0..<25 {
                        let entry = AuditEntry(actor: .system, action: "seam.test", targetType: "task", targetId: "\(task)",
                                               details: ["index": String(index)])
                        _ = try await engine.write { transaction in try AuditLog.append(entry, in: transaction, at: Date()) }
                    }
                }
            }
            try await group.waitForAll()
        }
        let rows = try await engine.write { transaction in
            try transaction.fetchAll("""
                SELECT seq, (at * 1000)::bigint, actor_type, actor_id, action, target_type, target_id, outcome, reason, ip,
                       user_agent, request_id, details, prev_hash, hash FROM audit_events ORDER BY seq
                """)
        }
        #expect(rows.map { $0[0].int ?? 0 } == Array(1...200))
        var previous = AuditLog.genesisHash
        for row in rows {
            guard case .blob(let prev) = row[13], case .blob(let hash) = row[14] else { Issue.record("no hashes"); return }
            #expect(Data(prev) == previous, "row \(row[0]) forks the chain")
            let canonical = AuditEvent.canonicalEncoding(
                seq: row[0].int!, atMilliseconds: row[1].int!, actorType: row[2].text!, actorId: row[3].text, action: row[4].text!,
                targetType: row[5].text, targetId: row[6].text, outcome: row[7].text!, reason: row[8].text, ip: row[9].text,
                userAgent: row[10].text, requestId: row[11].text, details: row[12].text)
            #expect(AuditEvent.chainHash(previous: previous, canonical: canonical) == Data(hash), "row \(row[0])")
            previous = Data(hash)
        }
        // Append-only there too.
        await #expect(throws: (any Error).self) {
            try await cluster.psql("UPDATE audit_events SET action = 'x' WHERE seq = 1")
        }
    }

    @Test("PostgreSQL: a commit through another connection reaches a console's change detector (LISTEN) once it has settled",
          .enabled(if: PostgresCluster.testsRun, "skipped: \(PostgresCluster.unavailableReason ?? "")"))
    func postgresChangeDetector() async throws {
        let (cluster, console) = try await Self.postgres()
        defer { try? console.close(); cluster.stop() }
        let detector = try ChangeDetector(database: console)
        // The first question always says "changed" (the console draws its first frame).
        #expect(try detector.hasChanged())
        // Drained first (the listener reports a change when it connects, as after any reconnect):
        // wait until it says "unchanged", a state polled, never a time.
        var quiet = false
        let quietDeadline = ContinuousClock.now + .seconds(60)
        while !quiet && ContinuousClock.now < quietDeadline {
            try await Task.sleep(for: .milliseconds(50))
            quiet = (try? detector.hasChanged()) == false
        }
        #expect(quiet, "the detector never settled")
        // Then one commit through another connection must reach it.
        let writer = try GatehouseDatabase.open(path: cluster.url(), options: TestEngine.options())
        defer { try? writer.close() }
        let policy = RateLimitPolicy(name: "seam", limit: 5, period: 60)
        _ = try await writer.write { tx in try RateLimiter.consume(policy: policy, key: "live", in: tx, at: Date()) }
        let written = ContinuousClock.now
        var seen = false
        while !seen && ContinuousClock.now < written + .seconds(60) {
            seen = (try? detector.hasChanged()) == true
            if !seen { try await Task.sleep(for: .milliseconds(5)) }
        }
        #expect(seen, "the commit's notification never reached the detector")
        print("LISTEN: change seen \(ContinuousClock.now - written) after the commit")
    }
}
