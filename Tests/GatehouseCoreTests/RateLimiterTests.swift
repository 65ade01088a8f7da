import Foundation
import Synchronization
import GatehouseTestSupport
import Testing
@testable import GatehouseCore

@Suite("Rate limits")
struct RateLimiterTests {
    let policy = RateLimitPolicy(name: "test", limit: 5, period: 60)

    @Test("GCRA allows the limit as a burst, then one request per emission interval")
    func gcra() async throws {
        let test = try TestGatehouse()
        let limiter = test.gatehouse.rateLimits
        var remaining: [Int] = []
        for _ in 0..<5 {
            let decision = try await limiter.check(policy, key: "k")
            #expect(decision.allowed)
            remaining.append(decision.remaining)
        }
        #expect(remaining == [4, 3, 2, 1, 0])
        let blocked = try await limiter.check(policy, key: "k")
        #expect(!blocked.allowed && abs(blocked.retryAfter - 12) < 1e-6 && abs(blocked.resetAfter - 60) < 1e-6)
        test.clock.advance(by: 11.9)
        #expect(try await !limiter.check(policy, key: "k").allowed)
        test.clock.advance(by: 0.1)
        #expect(try await limiter.check(policy, key: "k").allowed)
        #expect(try await !limiter.check(policy, key: "k").allowed)
        // Another key has its own bucket.
        #expect(try await limiter.check(policy, key: "other").allowed)
        test.clock.advance(by: 60)
        #expect(try await limiter.check(policy, key: "k").remaining == 4)

        let bucket = try #require(try await limiter.bucket(key: "test:k"))
        #expect(bucket.allowedTotal == 7 && bucket.blockedTotal == 3 && bucket.lastBlockedAt != nil)
    }

    @Test("operators list buckets by blocked count and reset one, audited")
    func listAndReset() async throws {
        let test = try TestGatehouse()
        let limiter = test.gatehouse.rateLimits
        for _ in 0..<8 { _ = try await limiter.check(policy, key: "noisy") }
        for _ in 0..<6 { _ = try await limiter.check(policy, key: "busy") }
        _ = try await limiter.check(policy, key: "quiet")
        #expect(try await limiter.buckets().map(\.key) == ["test:noisy", "test:busy", "test:quiet"])
        #expect(try await limiter.buckets(orderedBy: .key).map(\.key) == ["test:busy", "test:noisy", "test:quiet"])

        let operatorActor = Actor.operator(OperatorIdentity(name: "oncall", sshClient: "203.0.113.9", via: "cli"))
        #expect(try await limiter.reset(key: "test:noisy", by: operatorActor))
        #expect(try await !limiter.reset(key: "test:absent", by: operatorActor))
        #expect(try await limiter.check(policy, key: "noisy").remaining == 4)
        let event = try #require(try await test.gatehouse.audit.tail(limit: 5).last)
        #expect(event.action == "rate_limit.reset" && event.actorId == "oncall" && event.targetId == "test:noisy")
    }

    /// A request reads the clock when it begins and can reach the bucket after younger ones
    /// have: it is decided at the bucket's time, neither refused for its lag nor given more room.
    @Test("a request with an older clock reading than the bucket's last decision is decided at the bucket's time")
    func olderClockReading() async throws {
        let test = try TestGatehouse()
        let limiter = test.gatehouse.rateLimits
        for _ in 0..<3 { #expect(try await limiter.check(policy, key: "k").allowed) }
        test.clock.advance(by: -30)                 // half the period behind the last decision
        #expect(try await limiter.check(policy, key: "k").remaining == 1)
        #expect(try await limiter.check(policy, key: "k").remaining == 0)
        let full = try await limiter.check(policy, key: "k")
        // Told in the caller's own time, 30 s behind the bucket's: 12 s there are 42 s here.
        #expect(!full.allowed && abs(full.retryAfter - 42) < 1e-6)

        // The field report's shape: a bucket that allows 10⁸ a second, a request 2 s behind.
        let generous = RateLimitPolicy(name: "refresh-ip", limit: 100_000_000, period: 1)
        test.clock.advance(by: 32)
        #expect(try await limiter.check(generous, key: "nat").allowed)
        test.clock.advance(by: -2)
        #expect(try await limiter.check(generous, key: "nat").allowed)
    }

    /// Two `serve` nodes on one database whose clocks disagree by more than a period.
    @Test("nodes whose clocks differ by more than the period share a bucket without refusing under the rate")
    func skewedNodes() async throws {
        let test = try TestGatehouse()
        let behindClock = ManualClock(test.clock.now().addingTimeInterval(-5))
        let behind = try Gatehouse.open(path: test.path, options: TestEngine.options(), clock: behindClock)
        let tenPerSecond = RateLimitPolicy(name: "ten", limit: 10, period: 1)
        for _ in 0..<20 {                           // 8 a second between them
            #expect(try await test.gatehouse.rateLimits.check(tenPerSecond, key: "shared").allowed)
            #expect(try await behind.rateLimits.check(tenPerSecond, key: "shared").allowed)
            test.clock.advance(by: 0.25)
            behindClock.advance(by: 0.25)
        }
        // And the limit holds: the bucket keeps the time of the node ahead (its last decision),
        // at which two of the ten slots are taken, so a burst from the node behind gets 8.
        var burst = 0
        for _ in 0..<11 where try await behind.rateLimits.check(tenPerSecond, key: "shared").allowed { burst += 1 }
        #expect(burst == 8)
    }

    /// PostgreSQL writes the bucket at the commit: a younger request that commits between this
    /// one's decision and its commit must not turn an allowed request into a refusal (nor into
    /// a run again: the transaction commits the first time).
    @Test("PostgreSQL: a request overtaken at its commit by a younger one commits, allowed, the first time",
          .enabled(if: !TestEngine.isSQLite))
    func overtakenByYounger() async throws {
        let test = try TestGatehouse()
        let generous = RateLimitPolicy(name: "refresh-ip", limit: 100, period: 1)
        let start = test.clock.now()
        let decided = DispatchSemaphore(value: 0), youngerCommitted = DispatchSemaphore(value: 0)
        let attempts = Mutex(0)
        async let older = test.gatehouse.database.write { tx in
            let attempt = attempts.withLock { $0 += 1; return $0 }
            let decision = try RateLimiter.consume(policy: generous, key: "nat", in: tx, at: start)
            if attempt == 1 {
                decided.signal()
                youngerCommitted.wait()
            }
            return decision.allowed
        }
        try await offPool { decided.wait() }
        test.clock.advance(by: 5)
        #expect(try await test.gatehouse.rateLimits.check(generous, key: "nat").allowed)
        youngerCommitted.signal()
        #expect(try await older)
        #expect(attempts.withLock { $0 } == 1)
        let bucket = try #require(try await test.gatehouse.rateLimits.bucket(key: "refresh-ip:nat"))
        #expect(bucket.allowedTotal == 2 && bucket.blockedTotal == 0)
    }

    @Test("rates parse from configuration text", arguments: [
        ("5/minute", 5, 60.0), ("20/hour", 20, 3600.0), ("100/second", 100, 1.0), ("7/day", 7, 86400.0), ("3/90s", 3, 90.0),
    ])
    func parse(_ text: String, limit: Int, period: Double) throws {
        let parsed = try RateLimitPolicy(name: "x", rate: text)
        #expect(parsed.limit == limit && parsed.period == period)
    }

    @Test("bad rates and unknown policy names are refused with the reason")
    func parseErrors() throws {
        for bad in ["5", "x/minute", "0/minute", "5/fortnight", "-1/hour"] {
            #expect(throws: RateLimitPolicyError.self) { try RateLimitPolicy(name: "x", rate: bad) }
        }
        var policies = RateLimitPolicies()
        try policies.override("refresh", rate: "100/minute")
        #expect(policies.refresh.limit == 100)
        #expect(throws: RateLimitPolicyError.unknownPolicy("refersh")) { try policies.override("refersh", rate: "1/minute") }
    }

    /// Two processes take from one bucket at the same moment: together they must get exactly
    /// the limit, never more (a lost update) and never less.
    @Test("two processes hitting one bucket at once get exactly the limit between them")
    func twoProcesses() async throws {
        let test = try TestGatehouse()
        let arguments = ["debug", "rate-limit-hammer", "--db", test.path, "--key", "shared", "--rate", "150/hour", "--attempts", "200"]
        let first = try GatehouseBinary.start(arguments)
        let second = try GatehouseBinary.start(arguments)
        let results = [await first.exit(), await second.exit()]
        for result in results { #expect(result.status == 0, "\(result.stderr)") }
        let counts = results.compactMap { Int($0.stdout.trimmingCharacters(in: .whitespacesAndNewlines)) }
        #expect(counts.count == 2)
        #expect(counts.reduce(0, +) == 150, "allowed per process: \(counts)")
        let bucket = try #require(try test.gatehouse.database.readSync { tx in
            try tx.fetchOne(RateLimitBucket.self, "SELECT * FROM rate_limit_buckets WHERE key = 'hammer:shared'")
        })
        #expect(bucket.allowedTotal == 150 && bucket.blockedTotal == 250)
    }
}
