import Foundation
import Testing
@testable import GatehouseCore

@Suite("Sessions")
struct SessionTests {
    @Test("a cookie secret authenticates its session and user")
    func authenticate() async throws {
        let test = try TestGatehouse()
        let (login, cookie) = try await test.webLogin("erin@example.com")
        let found = try await test.gatehouse.sessions.authenticate(secret: cookie.value)
        #expect(found.session.handle == login.session.handle)
        #expect(found.user.email == "erin@example.com")
        #expect(!found.usedPreviousSecret)
    }

    /// The bug Gatehouse was born from: a store that deleted the old session before the new one
    /// existed logged users out when a request with the old cookie arrived in between.
    @Test("regeneration under interleaved old and new requests never rejects both")
    func regenerateInterleaved() async throws {
        let test = try TestGatehouse()
        let (_, first) = try await test.webLogin()
        var current = first
        var history = [first]
        for _ in 0..<20 {
            let old = current
            // Requests carrying the old secret race the regeneration.
            // Each racer's refusal, if any, in words (nil: served).
            let (rotated, refusals) = try await withThrowingTaskGroup(of: String?.self) { group -> (SecretToken, [String]) in
                for _ in 0..<8 {
                    group.addTask {
                        do { _ = try await test.gatehouse.sessions.authenticate(secret: old.value); return nil } catch { return "\(error)" }
                    }
                }
                let (_, fresh) = try await test.gatehouse.sessions.regenerate(secret: old.value)
                var results: [String] = []
                for try await refusal in group { if let refusal { results.append(refusal) } }
                return (fresh, results)
            }
            #expect(refusals.isEmpty, "a request with the old secret was refused during regeneration: \(refusals)")
            // Right after: both the old and the new secret are accepted, in any order.
            let new = try await test.gatehouse.sessions.authenticate(secret: rotated.value)
            let previous = try await test.gatehouse.sessions.authenticate(secret: old.value)
            #expect(!new.usedPreviousSecret)
            #expect(previous.usedPreviousSecret)
            current = rotated
            history.append(rotated)
        }
        // After the grace period only the newest works, and the others fail as "rotated".
        test.clock.advance(by: 31)
        _ = try await test.gatehouse.sessions.authenticate(secret: current.value)
        for old in history.dropLast() {
            #expect(await failure { try await test.gatehouse.sessions.authenticate(secret: old.value) } == .rotated)
        }
        let reasons = try await test.gatehouse.audit.tail(limit: 100).filter { $0.action == "session.lookup_failed" }.map(\.reason)
        #expect(reasons.contains("rotated"))
    }

    @Test("the grace period is configurable and ends exactly")
    func graceBoundary() async throws {
        let test = try TestGatehouse { $0.sessionRotationGrace = 5 }
        let (_, old) = try await test.webLogin()
        _ = try await test.gatehouse.sessions.regenerate(secret: old.value)
        test.clock.advance(by: 5)
        _ = try await test.gatehouse.sessions.authenticate(secret: old.value)
        test.clock.advance(by: 0.001)
        #expect(await failure { try await test.gatehouse.sessions.authenticate(secret: old.value) } == .rotated)
    }

    @Test("idle timeout ends a session nobody uses; use keeps it alive")
    func idleTimeout() async throws {
        let test = try TestGatehouse {
            $0.sessionIdleTimeout = 600
            $0.sessionTouchInterval = 30
        }
        let (login, cookie) = try await test.webLogin()
        for _ in 0..<5 {
            test.clock.advance(by: 500)
            _ = try await test.gatehouse.sessions.authenticate(secret: cookie.value)
        }
        test.clock.advance(by: 600)
        #expect(await failure { try await test.gatehouse.sessions.authenticate(secret: cookie.value) } == .expiredIdle)
        let summary = try #require(try await test.gatehouse.sessions.summary(handle: login.session.handle))
        #expect(summary.session.state == .expired)
        #expect(summary.session.endReason == "expired_idle")
        #expect(summary.session.endedBy == "system")
    }

    @Test("absolute lifetime ends a session however busy")
    func absoluteLifetime() async throws {
        let test = try TestGatehouse {
            $0.sessionIdleTimeout = 600
            $0.sessionAbsoluteLifetime = 3600
        }
        let (_, cookie) = try await test.webLogin()
        for _ in 0..<7 {
            test.clock.advance(by: 500)
            _ = try await test.gatehouse.sessions.authenticate(secret: cookie.value)
        }
        test.clock.advance(by: 100)
        #expect(await failure { try await test.gatehouse.sessions.authenticate(secret: cookie.value) } == .expiredAbsolute)
    }

    @Test("revoking a session is audited with the operator and fails the next lookup as revoked")
    func revoke() async throws {
        let test = try TestGatehouse()
        let (login, cookie) = try await test.webLogin()
        let operatorActor = Actor.operator(OperatorIdentity(name: "oncall", sshClient: "203.0.113.9", via: "cli"))
        #expect(try await test.gatehouse.sessions.revoke(handle: login.session.handle, by: operatorActor))
        #expect(try await !test.gatehouse.sessions.revoke(handle: login.session.handle, by: operatorActor))
        #expect(await failure { try await test.gatehouse.sessions.authenticate(secret: cookie.value) } == .revoked)
        let event = try #require(try await test.gatehouse.audit.tail(limit: 10).first { $0.action == "session.revoked" })
        #expect(event.actorType == "operator" && event.actorId == "oncall" && event.ip == "203.0.113.9")
        #expect(event.details?.contains(#""ssh_client":"203.0.113.9""#) == true)
        #expect(event.details?.contains(#""via":"cli""#) == true)
    }

    @Test("regenerating an ended or unknown session says why it cannot")
    func regenerateRefused() async throws {
        let test = try TestGatehouse()
        let (login, cookie) = try await test.webLogin()
        try await test.gatehouse.sessions.logout(sessionHandle: login.session.handle)
        #expect(await failure { try await test.gatehouse.sessions.regenerate(secret: cookie.value) } == .loggedOut)
        #expect(await failure { try await test.gatehouse.sessions.regenerate(secret: SecretToken.generate().value) } == .unknown)
        #expect(await failure { try await test.gatehouse.sessions.regenerate(secret: "short") } == .malformed)
    }

    @Test("logout ends the session and its refresh family")
    func logout() async throws {
        let test = try TestGatehouse()
        let (login, pair) = try await test.apiLogin()
        try await test.gatehouse.sessions.logout(sessionHandle: login.session.handle)
        #expect(await failure { try await test.gatehouse.refreshTokens.refresh(pair.refreshToken.value) } == .loggedOut)
    }

    @Test("revoking all of a user's sessions leaves other users alone")
    func revokeAll() async throws {
        let test = try TestGatehouse()
        _ = try await test.webLogin("frank@example.com")
        _ = try await test.apiLogin("frank@example.com")
        let (_, other) = try await test.webLogin("grace@example.com")
        let revoked = try await test.gatehouse.sessions.revokeAll(email: "FRANK@example.com", by: .system)
        #expect(revoked.count == 2)
        _ = try await test.gatehouse.sessions.authenticate(secret: other.value)
        #expect(try await test.gatehouse.sessions.list(.init(state: .revoked)).count == 2)
        #expect(try await test.gatehouse.sessions.list(.init(state: .active)).count == 1)
    }

    @Test("failed lookups are recorded, but a flood is throttled")
    func failedLookupThrottle() async throws {
        let test = try TestGatehouse()
        for _ in 0..<100 {
            _ = await failure { try await test.gatehouse.sessions.authenticate(secret: SecretToken.generate().value, context: .init(ip: "192.0.2.66")) }
        }
        let recorded = try await test.gatehouse.audit.tail(limit: 1000).filter { $0.action == "session.lookup_failed" }
        #expect(recorded.count == 30)
        #expect(recorded.allSatisfy { $0.reason == "unknown" && $0.ip == "192.0.2.66" })
        let bucket = try #require(try await test.gatehouse.rateLimits.bucket(key: "audit-failures:192.0.2.66"))
        #expect(bucket.blockedTotal == 70)
    }

    @Test("listing pages by keyset and filters by user and effective state")
    func listing() async throws {
        let test = try TestGatehouse { $0.sessionIdleTimeout = 100 }
        for index in 0..<7 { _ = try await test.webLogin("user\(index)@example.com") }
        let firstPage = try await test.gatehouse.sessions.list(limit: 3)
        let secondPage = try await test.gatehouse.sessions.list(limit: 3, page: .after(SessionService.pageKey(firstPage.last!.session)))
        #expect(firstPage.map(\.email) == ["user6@example.com", "user5@example.com", "user4@example.com"])
        #expect(secondPage.map(\.email) == ["user3@example.com", "user2@example.com", "user1@example.com"])
        let back = try await test.gatehouse.sessions.list(limit: 3, page: .before(SessionService.pageKey(secondPage.first!.session)))
        #expect(back.map(\.email) == firstPage.map(\.email))
        let from = try await test.gatehouse.sessions.list(limit: 2, page: .from(SessionService.pageKey(secondPage.first!.session)))
        #expect(from.map(\.email) == ["user3@example.com", "user2@example.com"])
        let last = try await test.gatehouse.sessions.list(limit: 3, page: .last)
        #expect(last.map(\.email) == ["user2@example.com", "user1@example.com", "user0@example.com"])
        #expect(try await test.gatehouse.sessions.list(.init(text: TextFilter(pattern: "USER[35]"))).map(\.email) == ["user5@example.com", "user3@example.com"])
        #expect(try await test.gatehouse.sessions.list(.init(text: TextFilter(typed: "!user[0-4]"))).count == 2)
        // Plain text takes the instr path; same answers, case-insensitive.
        #expect(TextFilter(pattern: "USER3").isLiteral && !TextFilter(pattern: "user[3]").isLiteral)
        #expect(try await test.gatehouse.sessions.list(.init(text: TextFilter(pattern: "USER3@"))).map(\.email) == ["user3@example.com"])
        #expect(try await test.gatehouse.sessions.list(.init(text: TextFilter(typed: "!user3@"))).count == 6)
        #expect(try await test.gatehouse.sessions.list(.init(email: "user2@example.com")).count == 1)
        test.clock.advance(by: 101)
        #expect(try await test.gatehouse.sessions.list(.init(state: .expired)).count == 7)
        #expect(try await test.gatehouse.sessions.list(.init(state: .active)).isEmpty)
    }
}
