import Foundation
import GatehouseCore
import GatehouseServer
import GatehouseTestSupport
import HTTPTypes
import HummingbirdTesting
import Testing

/// One test per logout cause, each produced through the HTTP API and explained from the
/// evidence the server recorded.
@Suite("Logout forensics")
struct ForensicsTests {
    static let name = ServerOptions.defaultCookieName
    static let operatorActor = Actor.operator(OperatorIdentity(name: "oncall", sshClient: "203.0.113.9", via: "cli"))

    /// A browser login; returns the cookie value.
    static func browserLogin(_ client: any TestClientProtocol, cookie: String? = nil, ip: String = "198.51.100.7") async throws -> String {
        var headers: HTTPFields = [.forwardedFor: ip, .userAgent: "Firefox/140"]
        if let cookie { headers[.cookie] = "\(name)=\(cookie)" }
        let response = try await client.post("/session/login", json: #"{"token":"\#(try await client.devToken(ip: ip))"}"#, headers: headers)
        guard let value = response.cookieValue(name) else { throw FixtureError.unexpected(response) }
        return value
    }

    static func browse(_ client: any TestClientProtocol, cookie: String, ip: String = "198.51.100.7") async throws -> TestResponse {
        try await client.get("/session", headers: [.cookie: "\(name)=\(cookie)", .forwardedFor: ip, .userAgent: "Firefox/140"])
    }

    @Test("rotated: the cookie replaced at a re-login comes back after the grace period")
    func rotatedCookie() async throws {
        let fixture = try ServerFixture()
        try await fixture.test { client in
            let old = try await Self.browserLogin(client)
            _ = try await Self.browserLogin(client, cookie: old) // same user again: the id is regenerated
            fixture.clock.advance(by: 45)
            #expect(try await Self.browse(client, cookie: old).status == .unauthorized)
            let explanation = try await fixture.gatehouse.forensics.explain(.cookie(old))
            #expect(explanation.verdict.cause == .rotatedCookieAfterGrace, "\(explanation.verdict)")
            #expect(explanation.verdict.summary.contains("45 s after it was replaced (grace 30 s)"))
            #expect(explanation.verdict.evidence.count == 2)
            #expect(!ExplanationText.lines(explanation).map(\.text).joined().contains(old), "the secret never appears")
        }
    }

    @Test("idle expiry: no request for the idle timeout")
    func idleExpiry() async throws {
        let fixture = try ServerFixture(configuration: { $0.sessionIdleTimeout = 3600 })
        try await fixture.test { client in
            let cookie = try await Self.browserLogin(client)
            fixture.clock.advance(by: 3700)
            #expect(try await Self.browse(client, cookie: cookie).status == .unauthorized)
            let verdict = try await fixture.gatehouse.forensics.explain(.cookie(cookie)).verdict
            #expect(verdict.cause == .idleExpiry && verdict.summary.contains("no request for 1 h 0 min"), "\(verdict)")
            #expect(verdict.evidence.count == 1, "the session.expired row the refused request recorded")
        }
    }

    @Test("absolute expiry: the lifetime ran out although the user was active")
    func absoluteExpiry() async throws {
        let fixture = try ServerFixture(configuration: { $0.sessionAbsoluteLifetime = 7200; $0.sessionIdleTimeout = 3600 })
        try await fixture.test { client in
            let cookie = try await Self.browserLogin(client)
            for _ in 0..<3 {
                fixture.clock.advance(by: 2500)
                _ = try await Self.browse(client, cookie: cookie)
            }
            let verdict = try await fixture.gatehouse.forensics.explain(.cookie(cookie)).verdict
            #expect(verdict.cause == .absoluteExpiry, "\(verdict)")
        }
    }

    @Test("revoked by an operator: who and from where")
    func revokedByOperator() async throws {
        let fixture = try ServerFixture()
        try await fixture.test { client in
            let tokens = try await client.apiLogin()
            let handle = try #require(try await fixture.gatehouse.sessions.list().first?.session.handle)
            _ = try await fixture.gatehouse.sessions.revoke(handle: handle, by: Self.operatorActor)
            #expect(try await client.get("/api/v1/auth/me", headers: tokens.bearer).status == .unauthorized)
            let verdict = try await fixture.gatehouse.forensics.explain(.refreshToken(tokens.refresh)).verdict
            #expect(verdict.cause == .revokedByOperator && verdict.summary.contains("operator:oncall@203.0.113.9"), "\(verdict)")
            #expect(verdict.hint == "The operator connected from 203.0.113.9.")
        }
    }

    @Test("refresh-token reuse: which token, how long after its rotation")
    func reuse() async throws {
        let fixture = try ServerFixture()
        try await fixture.test { client in
            let tokens = try await client.apiLogin()
            let rotated = try await client.post("/api/v1/auth/refresh", json: #"{"refresh_token":"\#(tokens.refresh)"}"#)
            #expect(rotated.status == .ok)
            fixture.clock.advance(by: 120)
            let replay = try await client.post("/api/v1/auth/refresh", json: #"{"refresh_token":"\#(tokens.refresh)"}"#,
                                               headers: [.forwardedFor: "192.0.2.66"])
            #expect(replay.status == .unauthorized)
            let explanation = try await fixture.gatehouse.forensics.explain(.user(email: "alice@example.com"))
            let verdict = explanation.verdict
            #expect(verdict.cause == .refreshTokenReuse, "\(verdict)")
            let fingerprint = SecretToken(value: tokens.refresh).hash.fingerprint
            #expect(verdict.summary.contains("refresh token \(fingerprint) was presented again 120 s after it was rotated, from 192.0.2.66"))
            #expect(verdict.evidence.count == 3, "rotation, detection, revocation")
        }
    }

    @Test("logged out by the user")
    func loggedOut() async throws {
        let fixture = try ServerFixture()
        try await fixture.test { client in
            let cookie = try await Self.browserLogin(client)
            let out = try await client.post("/session/logout", json: "", headers: [.cookie: "\(Self.name)=\(cookie)", .forwardedFor: "198.51.100.7"])
            #expect(out.status == .noContent)
            let verdict = try await fixture.gatehouse.forensics.explain(.cookie(cookie)).verdict
            #expect(verdict.cause == .loggedOutByUser && verdict.summary.contains("from 198.51.100.7"), "\(verdict)")
        }
    }

    @Test("a cookie this server never issued: named with its cookie name and the RFC 6265 hint")
    func neverIssued() async throws {
        let fixture = try ServerFixture()
        try await fixture.test { client in
            let cookie = try await Self.browserLogin(client)
            fixture.clock.advance(by: 60)
            let foreign = SecretToken.generate().value
            #expect(try await Self.browse(client, cookie: foreign).status == .unauthorized)
            #expect(try await Self.browse(client, cookie: "not-even-ours").status == .unauthorized)

            let asked = try await fixture.gatehouse.forensics.explain(.cookie(foreign))
            #expect(asked.verdict.cause == .neverIssued && asked.sessions.isEmpty, "\(asked.verdict)")
            #expect(asked.verdict.hint?.contains("under the name '\(Self.name)'") == true && asked.verdict.hint?.contains("RFC 6265 §8.5") == true)
            #expect(asked.strayLookups.count == 1)

            // Asked about the user's own session: the foreign cookies from the same browser are the cause.
            let victim = try await fixture.gatehouse.forensics.explain(.cookie(cookie))
            #expect(victim.verdict.cause == .foreignCookie, "\(victim.verdict)")
            #expect(victim.verdict.summary.contains("sent a '\(Self.name)' cookie this server never issued, 2×"))
            #expect(victim.sessions[0].timeline.filter(\.isEvidence).count == 2)
        }
    }

    @Test("a rate-limited refresh the client treated as a logout")
    func rateLimitedRefresh() async throws {
        let fixture = try ServerFixture(options: { _ in }, configuration: { try? $0.rateLimits.override("refresh", rate: "2/minute") })
        try await fixture.test { client in
            var tokens = try await client.apiLogin()
            for _ in 0..<2 {
                let response = try await client.post("/api/v1/auth/refresh", json: #"{"refresh_token":"\#(tokens.refresh)"}"#)
                #expect(response.status == .ok)
                tokens = try Tokens(response.json)
            }
            let limited = try await client.post("/api/v1/auth/refresh", json: #"{"refresh_token":"\#(tokens.refresh)"}"#)
            #expect(limited.status == .tooManyRequests)
            // The client gives up: nothing more. A week later the session has expired idle.
            fixture.clock.advance(by: 8 * 86400)
            let verdict = try await fixture.gatehouse.forensics.explain(.user(email: "alice@example.com")).verdict
            #expect(verdict.cause == .rateLimitedRefresh, "\(verdict)")
            #expect(verdict.summary.contains("refused with 429 (2/minute)"))
        }
    }

    @Test("an active session is not logged out; unknown subjects are errors")
    func notLoggedOut() async throws {
        let fixture = try ServerFixture()
        try await fixture.test { client in
            let cookie = try await Self.browserLogin(client)
            let verdict = try await fixture.gatehouse.forensics.explain(.cookie(cookie)).verdict
            #expect(verdict.cause == .notLoggedOut)
            await #expect(throws: AuthError.notFound("session ses_nope")) { try await fixture.gatehouse.forensics.explain(.session(handle: "ses_nope")) }
            await #expect(throws: AuthError.notFound("user nobody@example.com")) {
                try await fixture.gatehouse.forensics.explain(.user(email: "nobody@example.com"))
            }
        }
    }
}
