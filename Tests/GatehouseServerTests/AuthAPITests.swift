import Foundation
import GatehouseCore
import GatehouseServer
import GatehouseTestSupport
import HTTPTypes
import HummingbirdTesting
import Testing

@Suite("Token API")
struct AuthAPITests {
    @Test("magic link answers 202 with dev_token in --dev, and the outbox keeps the mail either way")
    func magicLink() async throws {
        for dev in [true, false] {
            let fixture = try ServerFixture(options: { $0.dev = dev })
            try await fixture.test { client in
                let response = try await client.post("/api/v1/auth/magic-link", json: #"{"email":" Alice@Example.com "}"#)
                #expect(response.status == .accepted)
                #expect(((response.json["dev_token"] as? String) != nil) == dev)
                #expect(response.json["expires_in"] as? Int == 900)
                #expect(response.headers[.cacheControl] == "no-store")
                #expect(response.headers[.rateLimitPolicy]?.hasPrefix("\"magic-link-email\";q=5;w=3600") == true)
            }
            let mail = try await fixture.gatehouse.magicLinks.outbox(recipient: "alice@example.com")
            #expect(mail.count == 1)
        }
    }

    @Test("an address that is not one is 422 invalid-email")
    func invalidEmail() async throws {
        try await ServerFixture().test { client in
            let response = try await client.post("/api/v1/auth/magic-link", json: #"{"email":"not-an-address"}"#)
            #expect(response.status == .unprocessableContent)
            #expect(response.problemKind == "invalid-email")
        }
    }

    @Test("verify returns the token shape; the JWT verifies against the JWKS route; a used link is 401")
    func verify() async throws {
        try await ServerFixture().test { client in
            let token = try await client.devToken()
            let response = try await client.post("/api/v1/auth/verify", json: #"{"token":"\#(token)"}"#)
            #expect(response.status == .ok)
            #expect(Set(response.json.keys) == ["access_token", "refresh_token", "token_type", "expires_in"])
            #expect(response.json["token_type"] as? String == "bearer")
            #expect(response.json["expires_in"] as? Int == 900)
            #expect(response.headers[.cacheControl] == "no-store")

            let jwks = try await client.get("/.well-known/jwks.json")
            #expect(jwks.status == .ok)
            #expect(jwks.headers[.contentType] == "application/jwk-set+json")
            let keys = try #require(jwks.json["keys"] as? [[String: Any]])
            #expect(keys.first?["alg"] as? String == "ES256")
            let access = try #require(response.json["access_token"] as? String)
            let header = try #require(access.split(separator: ".").first)
            let decoded = try #require(Data(base64URL: String(header)))
            let kid = (try JSONSerialization.jsonObject(with: decoded) as? [String: Any])?["kid"] as? String
            #expect(kid == keys.first?["kid"] as? String)

            let again = try await client.post("/api/v1/auth/verify", json: #"{"token":"\#(token)"}"#)
            #expect(again.status == .unauthorized)
            #expect(again.problemKind == "invalid-credential")
            #expect(again.json["reason"] as? String == "already_used")
        }
    }

    @Test("refresh rotates; the old token again (after the grace) is reuse: 401 and the family is dead")
    func refreshAndReuse() async throws {
        let fixture = try ServerFixture()
        try await fixture.test { client in
            let first = try await client.apiLogin()
            let rotated = try await client.post("/api/v1/auth/refresh", json: #"{"refresh_token":"\#(first.refresh)"}"#)
            #expect(rotated.status == .ok)
            let second = try Tokens(rotated.json)
            #expect(second.refresh != first.refresh)
            #expect(rotated.headers[.rateLimitPolicy] == "\"refresh\";q=5;w=60")
            #expect(rotated.headers[.rateLimit]?.hasPrefix("\"refresh\";r=4;") == true)

            fixture.clock.advance(by: 60)
            let replay = try await client.post("/api/v1/auth/refresh", json: #"{"refresh_token":"\#(first.refresh)"}"#)
            #expect(replay.status == .unauthorized)
            #expect(replay.json["reason"] as? String == "reused")
            let successor = try await client.post("/api/v1/auth/refresh", json: #"{"refresh_token":"\#(second.refresh)"}"#)
            #expect(successor.status == .unauthorized)
            #expect(successor.json["reason"] as? String == "revoked")
            let me = try await client.get("/api/v1/auth/me", headers: second.bearer)
            #expect(me.status == .unauthorized)

            for unknown in ["", "x", String(repeating: "A", count: 43)] {
                let response = try await client.post("/api/v1/auth/refresh", json: #"{"refresh_token":"\#(unknown)"}"#,
                                                      headers: [.forwardedFor: "203.0.113.50"])
                #expect(response.status == .unauthorized)
            }
            let metrics = try await client.get("/metrics").text
            #expect(metrics.contains(#"gatehouse_refreshes_total{outcome="rotated"} 1"#))
            #expect(metrics.contains("gatehouse_refresh_reuse_detected_total 1"))
        }
    }

    @Test("an expired refresh token is 401 expired")
    func expiredRefresh() async throws {
        let fixture = try ServerFixture(configuration: { $0.refreshTokenTTL = 60 })
        try await fixture.test { client in
            let tokens = try await client.apiLogin()
            fixture.clock.advance(by: 61)
            let response = try await client.post("/api/v1/auth/refresh", json: #"{"refresh_token":"\#(tokens.refresh)"}"#)
            #expect(response.status == .unauthorized)
            #expect(response.json["reason"] as? String == "expired")
        }
    }

    @Test("an empty refresh bucket is 429 with Retry-After and the RateLimit fields; other clients are unaffected")
    func refreshRateLimit() async throws {
        let fixture = try ServerFixture(configuration: { try! $0.rateLimits.override("refresh", rate: "2/minute") })
        try await fixture.test { client in
            var tokens = try await client.apiLogin(ip: "198.51.100.7")
            for _ in 0..<2 {
                let response = try await client.post("/api/v1/auth/refresh", json: #"{"refresh_token":"\#(tokens.refresh)"}"#,
                                                     headers: [.forwardedFor: "198.51.100.7"])
                #expect(response.status == .ok)
                tokens = try Tokens(response.json)
            }
            let limited = try await client.post("/api/v1/auth/refresh", json: #"{"refresh_token":"\#(tokens.refresh)"}"#,
                                                headers: [.forwardedFor: "198.51.100.7"])
            #expect(limited.status == .tooManyRequests)
            #expect(limited.problemKind == "rate-limited")
            #expect(limited.headers[.retryAfter] == "30")
            #expect(limited.headers[.rateLimit] == "\"refresh\";r=0;t=60")
            #expect(limited.headers[.rateLimitPolicy] == "\"refresh\";q=2;w=60")

            // Another client has its own bucket.
            let other = try await client.apiLogin("dave@example.com", ip: "203.0.113.9")
            let otherRefresh = try await client.post("/api/v1/auth/refresh", json: #"{"refresh_token":"\#(other.refresh)"}"#,
                                                     headers: [.forwardedFor: "203.0.113.9"])
            #expect(otherRefresh.status == .ok)

            // The token was not spent by the refused request: after the wait it still works.
            fixture.clock.advance(by: 30)
            let later = try await client.post("/api/v1/auth/refresh", json: #"{"refresh_token":"\#(tokens.refresh)"}"#,
                                              headers: [.forwardedFor: "198.51.100.7"])
            #expect(later.status == .ok)
            let metrics = try await client.get("/metrics").text
            #expect(metrics.contains(#"gatehouse_rate_limit_blocked_total{policy="refresh"} 1"#))
        }
    }

    @Test("eight users behind one NAT each refresh: none is refused; the limit is per refresh family, with a loose per-address cap")
    func refreshBehindOneAddress() async throws {
        let fixture = try ServerFixture()
        try await fixture.test { client in
            let nat = "198.51.100.7"
            var families: [Tokens] = []
            for user in 1...8 { families.append(try await client.apiLogin("user\(user)@example.com", ip: nat)) }
            for (index, tokens) in families.enumerated() {
                let response = try await client.post("/api/v1/auth/refresh", json: #"{"refresh_token":"\#(tokens.refresh)"}"#,
                                                     headers: [.forwardedFor: nat])
                #expect(response.status == .ok, "user \(index + 1): \(response.text)")
                families[index] = try Tokens(response.json)
            }
            // One family spends its own 5/minute; the others are untouched by it.
            var tokens = families[0]
            for _ in 0..<4 {
                let response = try await client.post("/api/v1/auth/refresh", json: #"{"refresh_token":"\#(tokens.refresh)"}"#,
                                                     headers: [.forwardedFor: nat])
                tokens = try Tokens(response.json)
            }
            let limited = try await client.post("/api/v1/auth/refresh", json: #"{"refresh_token":"\#(tokens.refresh)"}"#,
                                                headers: [.forwardedFor: nat])
            #expect(limited.status == .tooManyRequests)
            #expect(limited.headers[.rateLimitPolicy] == "\"refresh\";q=5;w=60")
            let neighbour = try await client.post("/api/v1/auth/refresh", json: #"{"refresh_token":"\#(families[1].refresh)"}"#,
                                                  headers: [.forwardedFor: nat])
            #expect(neighbour.status == .ok)
        }
        let keys = try await fixture.gatehouse.rateLimits.buckets(orderedBy: .key, policy: nil, limit: 100).map(\.key)
        #expect(keys.filter { $0.hasPrefix("refresh:fam_") }.count == 8, "\(keys)")
        #expect(keys.contains("refresh-ip:198.51.100.7"), "\(keys)")
    }

    @Test("one address spraying refresh tokens meets the refresh-ip cap")
    func refreshAddressCap() async throws {
        let fixture = try ServerFixture(configuration: { try! $0.rateLimits.override("refresh-ip", rate: "3/minute") })
        try await fixture.test { client in
            var statuses: [Int] = []
            for _ in 0..<4 {
                let guess = SecretToken.generate().value
                statuses.append(try await client.post("/api/v1/auth/refresh", json: #"{"refresh_token":"\#(guess)"}"#,
                                                      headers: [.forwardedFor: "203.0.113.50"]).status.code)
            }
            #expect(statuses == [401, 401, 401, 429])
            // IPv6 addresses count by their /64: a client does not get a new budget per address.
            var v6: [Int] = []
            for host in 1...4 {
                let guess = SecretToken.generate().value
                v6.append(try await client.post("/api/v1/auth/refresh", json: #"{"refresh_token":"\#(guess)"}"#,
                                                headers: [.forwardedFor: "2001:db8:1:2::\(host)"]).status.code)
            }
            #expect(v6 == [401, 401, 401, 429])
        }
        let keys = try await fixture.gatehouse.rateLimits.buckets(orderedBy: .key, limit: 100).map(\.key)
        #expect(keys.contains("refresh-ip:2001:db8:1:2::/64"), "\(keys)")
    }

    @Test("magic-link (per email and per IP), verify and session login are limited with 429 and the fields")
    func otherLimitedRoutes() async throws {
        let fixture = try ServerFixture(configuration: {
            try! $0.rateLimits.override("magic-link-email", rate: "2/hour")
            try! $0.rateLimits.override("magic-link-ip", rate: "4/hour")
            try! $0.rateLimits.override("verify", rate: "1/minute")
        })
        try await fixture.test { client in
            var statuses: [HTTPResponse.Status] = []
            for _ in 0..<3 {
                statuses.append(try await client.post("/api/v1/auth/magic-link", json: #"{"email":"a@example.com"}"#).status)
            }
            #expect(statuses == [.accepted, .accepted, .tooManyRequests])
            let perEmail = try await client.post("/api/v1/auth/magic-link", json: #"{"email":"a@example.com"}"#)
            #expect(perEmail.json["policy"] as? String == "magic-link-email")
            #expect(perEmail.headers[.retryAfter] == "1800")
            // The IP bucket took every request, the per-email refusals included.
            let perIP = try await client.post("/api/v1/auth/magic-link", json: #"{"email":"b@example.com"}"#)
            #expect(perIP.status == .tooManyRequests)
            #expect(perIP.json["policy"] as? String == "magic-link-ip")

            let verify = try await client.post("/api/v1/auth/verify", json: #"{"token":"x"}"#, headers: [.forwardedFor: "203.0.113.1"])
            #expect(verify.status == .unauthorized)
            let blocked = try await client.post("/api/v1/auth/verify", json: #"{"token":"x"}"#, headers: [.forwardedFor: "203.0.113.1"])
            #expect(blocked.status == .tooManyRequests)
            #expect(blocked.headers[.rateLimitPolicy] == "\"verify\";q=1;w=60")
            let login = try await client.post("/session/login", json: #"{"token":"x"}"#, headers: [.forwardedFor: "203.0.113.1"])
            #expect(login.status == .tooManyRequests)
        }
    }

    @Test("me answers user and session; an operator's revocation is 401 at once though the JWT is unexpired")
    func meAndRevocation() async throws {
        let fixture = try ServerFixture()
        try await fixture.test { client in
            let tokens = try await client.apiLogin("carol@example.com")
            let me = try await client.get("/api/v1/auth/me", headers: tokens.bearer)
            #expect(me.status == .ok)
            let user = try #require(me.json["user"] as? [String: Any])
            let session = try #require(me.json["session"] as? [String: Any])
            #expect(user["email"] as? String == "carol@example.com")
            #expect(user["credits"] as? Int == 0)
            #expect(user["id"] as? Int != nil)
            let handle = try #require(session["handle"] as? String)
            #expect(handle.hasPrefix("ses_"))
            #expect(session["created_at"] as? String != nil && session["expires_at"] as? String != nil)

            try await fixture.gatehouse.sessions.revoke(handle: handle, by: .system)
            let after = try await client.get("/api/v1/auth/me", headers: tokens.bearer)
            #expect(after.status == .unauthorized)
            #expect(after.json["reason"] as? String == "revoked")
            #expect(after.headers[.wwwAuthenticate]?.contains("invalid_token") == true)
        }
    }

    @Test("me without a token, with garbage, or with an expired token is 401")
    func meRefusals() async throws {
        let fixture = try ServerFixture()
        try await fixture.test { client in
            let missing = try await client.get("/api/v1/auth/me")
            #expect(missing.status == .unauthorized)
            #expect(missing.problemKind == "unauthenticated")
            #expect(missing.headers[.wwwAuthenticate] == "Bearer realm=\"gatehouse\"")
            for header in ["Bearer", "Bearer ", "Basic YWxpY2U6c2VjcmV0", "Bearer not.a.jwt", "Bearer \(String(repeating: "x", count: 5000))"] {
                let response = try await client.get("/api/v1/auth/me", headers: [.authorization: header])
                #expect(response.status == .unauthorized, "\(header.prefix(20))")
            }
            let tokens = try await client.apiLogin()
            fixture.clock.advance(by: 901)
            let expired = try await client.get("/api/v1/auth/me", headers: tokens.bearer)
            #expect(expired.status == .unauthorized)
            #expect(expired.json["reason"] as? String == "expired")
        }
    }

    @Test("logout ends the session and its refresh family")
    func logout() async throws {
        try await ServerFixture().test { client in
            let tokens = try await client.apiLogin()
            let out = try await client.post("/api/v1/auth/logout", json: "", headers: tokens.bearer)
            #expect(out.status == .noContent)
            let me = try await client.get("/api/v1/auth/me", headers: tokens.bearer)
            #expect(me.json["reason"] as? String == "logged_out")
            let refresh = try await client.post("/api/v1/auth/refresh", json: #"{"refresh_token":"\#(tokens.refresh)"}"#)
            #expect(refresh.status == .unauthorized)
            #expect(refresh.json["reason"] as? String == "logged_out")
        }
    }

    @Test("two clients refreshing the same token at the same moment both get the one successor")
    func concurrentRefresh() async throws {
        let fixture = try ServerFixture()
        try await fixture.test(.live) { client in
            let tokens = try await client.apiLogin()
            let base = "http://127.0.0.1:\(client.port!)"
            let answers = try await withThrowingTaskGroup(of: HTTPResult.self) { group in
                for _ in 0..<2 {
                    group.addTask {
                        try await HTTPRequester.shared.send("POST", base + "/api/v1/auth/refresh",
                                                            json: #"{"refresh_token":"\#(tokens.refresh)"}"#)
                    }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(answers.map(\.status) == [200, 200])
            let successors = Set(answers.compactMap { $0.json["refresh_token"] as? String })
            #expect(successors.count == 1)
            let family = try await fixture.gatehouse.refreshTokens.list()
            #expect(family.count == 2)
            #expect(family.filter { $0.token.state == .active }.count == 1)
        }
    }
}

extension Data {
    init?(base64URL: String) {
        var text = base64URL.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while text.count % 4 != 0 { text += "=" }
        self.init(base64Encoded: text)
    }
}
