import Foundation
import Testing
@testable import GatehouseCore

@Suite("Refresh tokens")
struct RefreshTokenTests {
    static func relaxed(_ configuration: inout GatehouseConfiguration) {
        configuration.rateLimits.refresh = RateLimitPolicy(name: "refresh", limit: 10_000, period: 60)
    }

    @Test("each refresh rotates: the old token becomes used, the new one is its child")
    func rotation() async throws {
        let test = try TestGatehouse(configure: Self.relaxed)
        let (login, first) = try await test.apiLogin()
        var pair = first
        for _ in 0..<3 {
            test.clock.advance(by: 60)
            let next = try await test.gatehouse.refreshTokens.refresh(pair.refreshToken.value)
            #expect(next.refreshToken != pair.refreshToken)
            #expect(next.sessionHandle == login.session.handle)
            pair = next
        }
        let tokens = try await test.gatehouse.refreshTokens.list(.init(sessionHandle: login.session.handle))
        #expect(tokens.map(\.token.state) == [.active, .used, .used, .used])
        #expect(tokens[0].parentFingerprint == tokens[1].token.fingerprint)
        #expect(tokens[0].token.fingerprint == pair.refreshToken.hash.fingerprint)
        #expect(try await test.auditActions().filter { $0 == "refresh.rotated" }.count == 3)
    }

    @Test("reuse inside the grace window is a benign race: same successor, no new branch")
    func reuseInsideGrace() async throws {
        let test = try TestGatehouse(configure: Self.relaxed)
        let (login, pair) = try await test.apiLogin()
        let winner = try await test.gatehouse.refreshTokens.refresh(pair.refreshToken.value)
        test.clock.advance(by: 9)
        let loser = try await test.gatehouse.refreshTokens.refresh(pair.refreshToken.value)
        #expect(loser.refreshToken == winner.refreshToken)
        let tokens = try await test.gatehouse.refreshTokens.list(.init(sessionHandle: login.session.handle))
        #expect(tokens.count == 2)
        // The shared successor still works, once.
        _ = try await test.gatehouse.refreshTokens.refresh(winner.refreshToken.value)
        let event = try #require(try await test.gatehouse.audit.tail(limit: 20).first { $0.action == "refresh.reuse_benign" })
        #expect(event.reason == "concurrent")
    }

    @Test("two clients refreshing one token at the same moment both succeed with the same successor")
    func simultaneousRefresh() async throws {
        let test = try TestGatehouse(configure: Self.relaxed)
        let (login, pair) = try await test.apiLogin()
        let results = try await withThrowingTaskGroup(of: TokenPair.self) { group in
            for _ in 0..<2 { group.addTask { try await test.gatehouse.refreshTokens.refresh(pair.refreshToken.value) } }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(results.count == 2 && results[0].refreshToken == results[1].refreshToken)
        #expect(try await test.gatehouse.refreshTokens.list(.init(sessionHandle: login.session.handle)).count == 2)
    }

    @Test("reuse outside the grace window revokes the family and the session, audited with its class",
          arguments: [(11.0, "late_retry"), (3600.0, "replay")])
    func reuseOutsideGrace(after seconds: Double, expectedClass: String) async throws {
        let test = try TestGatehouse(configure: Self.relaxed)
        let (login, pair) = try await test.apiLogin()
        let next = try await test.gatehouse.refreshTokens.refresh(pair.refreshToken.value)
        test.clock.advance(by: seconds)
        #expect(await failure { try await test.gatehouse.refreshTokens.refresh(pair.refreshToken.value) } == .reused)
        // The legitimate holder of the newest token is cut off too: the family is burnt.
        #expect(await failure { try await test.gatehouse.refreshTokens.refresh(next.refreshToken.value) } == .revoked)
        let summary = try #require(try await test.gatehouse.sessions.summary(handle: login.session.handle))
        #expect(summary.session.state == .revoked && summary.session.endReason == "refresh_reuse")
        let states = try await test.gatehouse.refreshTokens.list(.init(sessionHandle: login.session.handle)).map(\.token.state)
        #expect(states == [.revoked, .reused])
        let event = try #require(try await test.gatehouse.audit.tail(limit: 30).first { $0.action == "refresh.reuse_detected" })
        #expect(event.reason == expectedClass)
        #expect(event.details?.contains(pair.refreshToken.hash.fingerprint) == true)
        #expect(event.details?.contains(pair.refreshToken.value) == false)
    }

    @Test("revoking a session, a family or a token makes the next refresh fail")
    func revocationStopsRefresh() async throws {
        let test = try TestGatehouse(configure: Self.relaxed)
        let operatorActor = Actor.operator(OperatorIdentity(name: "oncall", sshClient: nil, via: "cli"))

        let (a, pairA) = try await test.apiLogin("a@example.com")
        try await test.gatehouse.sessions.revoke(handle: a.session.handle, by: operatorActor)
        #expect(await failure { try await test.gatehouse.refreshTokens.refresh(pairA.refreshToken.value) } == .revoked)

        let (b, pairB) = try await test.apiLogin("b@example.com")
        #expect(try await test.gatehouse.refreshTokens.revokeFamily(b.session.refreshFamily!, by: operatorActor) == 1)
        #expect(await failure { try await test.gatehouse.refreshTokens.refresh(pairB.refreshToken.value) } == .revoked)

        let (_, pairC) = try await test.apiLogin("c@example.com")
        #expect(try await test.gatehouse.refreshTokens.revoke(tokenOrFingerprint: pairC.refreshToken.hash.fingerprint, by: operatorActor))
        #expect(await failure { try await test.gatehouse.refreshTokens.refresh(pairC.refreshToken.value) } == .revoked)

        let (_, pairD) = try await test.apiLogin("d@example.com")
        #expect(try await test.gatehouse.refreshTokens.revoke(tokenOrFingerprint: pairD.refreshToken.value, by: operatorActor))
        #expect(await failure { try await test.gatehouse.refreshTokens.refresh(pairD.refreshToken.value) } == .revoked)

        let actions = try await test.gatehouse.audit.tail(limit: 100).filter { $0.actorType == "operator" }.map(\.action)
        #expect(actions == ["session.revoked", "refresh_family.revoked", "refresh_token.revoked", "refresh_token.revoked"])
    }

    @Test("an expired refresh token is refused; the lifetime is configurable")
    func expiry() async throws {
        let test = try TestGatehouse {
            Self.relaxed(&$0)
            $0.refreshTokenTTL = 3600
        }
        let (_, pair) = try await test.apiLogin()
        test.clock.advance(by: 3600)
        #expect(await failure { try await test.gatehouse.refreshTokens.refresh(pair.refreshToken.value) } == .expired)
    }

    @Test("refresh is rate limited per client: 5/minute by default")
    func rateLimited() async throws {
        let test = try TestGatehouse()
        var (_, pair) = try await test.apiLogin(ip: "192.0.2.10")
        for _ in 0..<5 { pair = try await test.gatehouse.refreshTokens.refresh(pair.refreshToken.value, context: .init(ip: "192.0.2.10")) }
        do {
            _ = try await test.gatehouse.refreshTokens.refresh(pair.refreshToken.value, context: .init(ip: "192.0.2.10"))
            Issue.record("the sixth refresh in a minute went through")
        } catch AuthError.rateLimited(let decision) {
            #expect(decision.policy.name == "refresh" && decision.remaining == 0)
            #expect(abs(decision.retryAfter - 12) < 0.01)
        }
        // The token was not spent by the refused request.
        test.clock.advance(by: 12)
        _ = try await test.gatehouse.refreshTokens.refresh(pair.refreshToken.value, context: .init(ip: "192.0.2.10"))
        #expect(try await test.auditActions().contains("refresh.rate_limited"))
    }

    @Test("a replayed token is detected even while its family's refresh budget is spent (the thief does not queue behind the owner)")
    func reuseDetectedWhenLimited() async throws {
        let test = try TestGatehouse()
        var (_, pair) = try await test.apiLogin(ip: "192.0.2.10")
        let stolen = pair.refreshToken.value
        for _ in 0..<5 { pair = try await test.gatehouse.refreshTokens.refresh(pair.refreshToken.value, context: .init(ip: "192.0.2.10")) }
        test.clock.advance(by: 12)
        // The family's 5/minute is spent (the one slot back after 12 s is taken by the owner first).
        pair = try await test.gatehouse.refreshTokens.refresh(pair.refreshToken.value, context: .init(ip: "192.0.2.10"))
        #expect(await failure { try await test.gatehouse.refreshTokens.refresh(stolen, context: .init(ip: "203.0.113.66")) } == .reused)
        #expect(try await test.auditActions().contains("refresh.reuse_detected"))
    }

    @Test("unknown and malformed refresh tokens are refused")
    func unknown() async throws {
        let test = try TestGatehouse(configure: Self.relaxed)
        #expect(await failure { try await test.gatehouse.refreshTokens.refresh("garbage") } == .malformed)
        #expect(await failure { try await test.gatehouse.refreshTokens.refresh(SecretToken.generate().value) } == .unknown)
    }

    @Test("finding a token by an ambiguous or absent fingerprint says so")
    func fingerprintLookup() async throws {
        let test = try TestGatehouse(configure: Self.relaxed)
        let (_, pair) = try await test.apiLogin()
        let full = pair.refreshToken.hash.fingerprint
        #expect(try await test.gatehouse.refreshTokens.find(full).tokenHash == pair.refreshToken.hash.bytes)
        #expect(try await test.gatehouse.refreshTokens.find(String(full.prefix(6))).tokenHash == pair.refreshToken.hash.bytes)
        await #expect(throws: AuthError.self) { try await test.gatehouse.refreshTokens.find("zz") }
        let absent = full.hasPrefix("00") ? "ffffffffffff" : "000000000000"
        await #expect(throws: AuthError.self) { try await test.gatehouse.refreshTokens.find(absent) }
    }

    @Test("fingerprint ranges cover exactly the hashes with that prefix")
    func hashRange() throws {
        let range = try #require(Fingerprint.hashRange(forPrefix: "abff"))
        #expect(range.lower == Data([0xab, 0xff]) && range.upper == Data([0xac, 0x00]))
        let top = try #require(Fingerprint.hashRange(forPrefix: "ffff"))
        #expect(top.upper.count == 33)
        #expect(Fingerprint.hashRange(forPrefix: "abc") == nil)
    }
}
