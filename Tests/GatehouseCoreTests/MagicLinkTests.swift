import Foundation
import Testing
@testable import GatehouseCore

@Suite("Magic links")
struct MagicLinkTests {
    @Test("a link creates the user once, goes to the outbox, and stores only its hash")
    func requestCreatesUserAndMail() async throws {
        let test = try TestGatehouse()
        let first = try await test.gatehouse.magicLinks.requestMagicLink(email: "  Alice@Example.COM ")
        let second = try await test.gatehouse.magicLinks.requestMagicLink(email: "alice@example.com")
        #expect(first.user.email == "alice@example.com")
        #expect(first.user.id == second.user.id)
        #expect(first.token.isWellFormed)
        #expect(first.expiresAt == test.clock.now().addingTimeInterval(15 * 60))

        let mail = try await test.gatehouse.magicLinks.outbox(recipient: "alice@example.com")
        #expect(mail.count == 2)
        #expect(mail.last?.body.contains(first.token.value) == true)

        let stored = try test.gatehouse.database.readSync { tx in try tx.fetchColumn(Data.self, "SELECT token_hash FROM magic_links") }
        #expect(stored.contains(first.token.hash.bytes))
        // No column anywhere but the outbox holds the token.
        let dump = try test.gatehouse.database.readSync { tx in
            try tx.fetchColumn(String.self, "SELECT details FROM audit_events WHERE details IS NOT NULL").joined()
        }
        #expect(!dump.contains(first.token.value))
        #expect(try await test.auditActions().filter { $0 == "user.created" }.count == 1)
    }

    @Test("a link works once")
    func singleUse() async throws {
        let test = try TestGatehouse()
        let link = try await test.gatehouse.magicLinks.requestMagicLink(email: "bob@example.com")
        let login = try await test.gatehouse.magicLinks.verifyMagicLink(token: link.token.value)
        #expect(login.user.email == "bob@example.com")
        #expect(login.session.state == .active)
        #expect(await failure { try await test.gatehouse.magicLinks.verifyMagicLink(token: link.token.value) } == .alreadyUsed)
    }

    @Test("a link expires after its TTL, and the TTL is configurable")
    func expiry() async throws {
        let test = try TestGatehouse { $0.magicLinkTTL = 120 }
        let link = try await test.gatehouse.magicLinks.requestMagicLink(email: "carol@example.com")
        test.clock.advance(by: 119)
        let early = try await test.gatehouse.magicLinks.requestMagicLink(email: "carol@example.com")
        test.clock.advance(by: 1)
        #expect(await failure { try await test.gatehouse.magicLinks.verifyMagicLink(token: link.token.value) } == .expired)
        _ = try await test.gatehouse.magicLinks.verifyMagicLink(token: early.token.value)
    }

    @Test("unknown and malformed links are refused and recorded")
    func unknownAndMalformed() async throws {
        let test = try TestGatehouse()
        #expect(await failure { try await test.gatehouse.magicLinks.verifyMagicLink(token: "nope") } == .malformed)
        let unknown = SecretToken.generate().value
        #expect(await failure { try await test.gatehouse.magicLinks.verifyMagicLink(token: unknown) } == .unknown)
        let failures = try await test.gatehouse.audit.tail(limit: 10).filter { $0.action == "magic_link.failed" }
        #expect(failures.map(\.reason) == ["malformed", "unknown"])
    }

    @Test("bad email addresses are refused with the reason", arguments: ["", "alice", "a@b", "a b@example.com", "@example.com", "alice@@example.com", "alice@example..com"])
    func invalidEmail(_ email: String) async throws {
        let test = try TestGatehouse()
        await #expect(throws: AuthError.self) { try await test.gatehouse.magicLinks.requestMagicLink(email: email) }
    }

    @Test("magic-link requests are limited per email (5/hour by default)")
    func emailRateLimit() async throws {
        let test = try TestGatehouse()
        for _ in 0..<5 { _ = try await test.gatehouse.magicLinks.requestMagicLink(email: "dave@example.com", context: .init(ip: "192.0.2.1")) }
        do {
            _ = try await test.gatehouse.magicLinks.requestMagicLink(email: "dave@example.com", context: .init(ip: "192.0.2.2"))
            Issue.record("the sixth request in an hour went through")
        } catch AuthError.rateLimited(let decision) {
            #expect(decision.policy.name == "magic-link-email")
            #expect(decision.retryAfter > 0 && decision.retryAfter <= 720)
        }
        // Nothing was created for the refused request.
        #expect(try await test.gatehouse.magicLinks.outbox().count == 5)
    }

    @Test("a web login yields a cookie secret, an api login a token pair")
    func kinds() async throws {
        let test = try TestGatehouse()
        let (web, cookie) = try await test.webLogin()
        #expect(web.session.kind == .web && web.session.refreshFamily == nil && cookie.isWellFormed)
        let (api, pair) = try await test.apiLogin()
        #expect(api.session.kind == .api && api.session.refreshFamily != nil)
        #expect(pair.refreshToken.isWellFormed && pair.expiresIn == 900 && pair.sessionHandle == api.session.handle)
    }
}
