import Foundation
import GatehouseCore
import GatehouseServer
import GatehouseTestSupport
import HTTPTypes
import HummingbirdTesting
import Testing

@Suite("Browser sessions (cookies)")
struct BrowserSessionTests {
    static let name = ServerOptions.defaultCookieName

    @Test("login sets an HttpOnly, SameSite=Lax, Path=/ and Secure cookie of Gatehouse's own name")
    func loginCookie() async throws {
        let fixture = try ServerFixture()
        try await fixture.test { client in
            let token = try await client.devToken()
            let response = try await client.post("/session/login", json: #"{"token":"\#(token)"}"#)
            #expect(response.status == .ok)
            let cookie = try #require(response.setCookie(Self.name))
            for attribute in ["HttpOnly", "SameSite=Lax", "Path=/", "Secure", "Max-Age="] {
                #expect(cookie.contains(attribute), "\(attribute) in \(cookie)")
            }
            #expect(Self.name != "session")
            let value = try #require(response.cookieValue(Self.name))
            let current = try await client.get("/session", headers: [.cookie: "\(Self.name)=\(value)"])
            #expect(current.status == .ok)
            #expect((current.json["user"] as? [String: Any])?["email"] as? String == "alice@example.com")
        }
    }

    @Test("--insecure-cookies leaves Secure off; the cookie name is configurable")
    func cookieOptions() async throws {
        let fixture = try ServerFixture(options: { $0.insecureCookies = true; $0.cookieName = "myapp_sid" })
        try await fixture.test { client in
            let response = try await client.post("/session/login", json: #"{"token":"\#(try await client.devToken())"}"#)
            let cookie = try #require(response.setCookie("myapp_sid"))
            #expect(!cookie.contains("Secure"))
        }
    }

    @Test("anonymous visitors get 401 and no cookie at all")
    func anonymous() async throws {
        try await ServerFixture().test { client in
            let response = try await client.get("/session")
            #expect(response.status == .unauthorized)
            #expect(response.problemKind == "unauthenticated")
            #expect(response.headers[values: .setCookie].isEmpty)
            let foreign = try await client.get("/session", headers: [.cookie: "\(Self.name)=not-ours; other=1"])
            #expect(foreign.status == .unauthorized)
            #expect(foreign.headers[values: .setCookie].isEmpty)
        }
    }

    @Test("logging in again keeps the session, changes its id, and the old id is served (without a new cookie) during the grace")
    func regenerationOnLogin() async throws {
        let fixture = try ServerFixture()
        try await fixture.test { client in
            let first = try await client.post("/session/login", json: #"{"token":"\#(try await client.devToken())"}"#)
            let oldValue = try #require(first.cookieValue(Self.name))
            let handle = try #require((first.json["session"] as? [String: Any])?["handle"] as? String)

            let second = try await client.post("/session/login", json: #"{"token":"\#(try await client.devToken())"}"#,
                                               headers: [.cookie: "\(Self.name)=\(oldValue)"])
            #expect(second.status == .ok)
            let newValue = try #require(second.cookieValue(Self.name))
            #expect(newValue != oldValue)
            #expect((second.json["session"] as? [String: Any])?["handle"] as? String == handle)

            let stale = try await client.get("/session", headers: [.cookie: "\(Self.name)=\(oldValue)"])
            #expect(stale.status == .ok)
            #expect(stale.headers[values: .setCookie].isEmpty)
            let fresh = try await client.get("/session", headers: [.cookie: "\(Self.name)=\(newValue)"])
            #expect(fresh.status == .ok)

            fixture.clock.advance(by: 31)
            let late = try await client.get("/session", headers: [.cookie: "\(Self.name)=\(oldValue)"])
            #expect(late.status == .unauthorized)
            #expect(late.json["reason"] as? String == "rotated")
            #expect(late.headers[values: .setCookie].isEmpty)
        }
    }

    @Test("two logins that overlap in one browser (two tabs, both still sending cookie A) leave both new cookies working; A's refusal names its regeneration")
    func overlappingLogins() async throws {
        let fixture = try ServerFixture()
        try await fixture.test { client in
            let first = try await client.post("/session/login", json: #"{"token":"\#(try await client.devToken())"}"#)
            let a = try #require(first.cookieValue(Self.name))
            var fresh: [String] = []
            for _ in 0..<2 {
                let login = try await client.post("/session/login", json: #"{"token":"\#(try await client.devToken())"}"#,
                                                  headers: [.cookie: "\(Self.name)=\(a)"])
                fresh.append(try #require(login.cookieValue(Self.name)))
            }
            fixture.clock.advance(by: 45)
            for value in fresh {
                let page = try await client.get("/session", headers: [.cookie: "\(Self.name)=\(value)"])
                #expect(page.status == .ok, "a cookie issued by the overlapping login died: \(page.text)")
            }
            let stale = try await client.get("/session", headers: [.cookie: "\(Self.name)=\(a)"])
            #expect(stale.json["reason"] as? String == "rotated")
            let verdict = try await fixture.gatehouse.forensics.explain(.cookie(a)).verdict
            #expect(verdict.cause == .rotatedCookieAfterGrace, "\(verdict)")
            #expect(verdict.summary.contains("the regeneration at 20") && verdict.summary.contains("45 s after it was replaced"), "\(verdict.summary)")
            #expect(!verdict.summary.contains("?"), "\(verdict.summary)")
        }
    }

    @Test("a request carrying 1,000 session cookies costs what one with four does: one read, one evidence write")
    func cookieAmplification() async throws {
        let fixture = try ServerFixture()
        try await fixture.test { client in
            let login = try await client.post("/session/login", json: #"{"token":"\#(try await client.devToken())"}"#)
            let good = try #require(login.cookieValue(Self.name))
            let junk = (0..<1000).map { _ in "\(Self.name)=\(SecretToken.generate().value)" }

            let writesBefore = fixture.gatehouse.database.writeStatistics.requests
            let auditBefore = try await fixture.gatehouse.audit.tail(limit: 1).first?.seq ?? 0
            let flood = try await client.get("/session", headers: [.cookie: junk.joined(separator: "; ")])
            #expect(flood.status == .unauthorized)
            #expect(fixture.gatehouse.database.writeStatistics.requests - writesBefore == 1)
            let rows = try await fixture.gatehouse.audit.tail(limit: 50).filter { $0.seq > auditBefore }
            #expect(rows.map(\.action) == ["session.lookup_failed"])
            let details = try JSONSerialization.jsonObject(with: Data((rows.first?.details ?? "{}").utf8)) as? [String: String]
            #expect(details?["values_presented"] == "1000")

            // A working value among the first few is found; one past the cap is not tried.
            let early = try await client.get("/session", headers: [.cookie: (junk.prefix(2) + ["\(Self.name)=\(good)"]).joined(separator: "; ")])
            #expect(early.status == .ok)
            let late = try await client.get("/session", headers: [.cookie: (junk.prefix(600) + ["\(Self.name)=\(good)"]).joined(separator: "; ")])
            #expect(late.status == .unauthorized)
        }
    }

    @Test("a login as another user starts a new session instead of regenerating the first")
    func loginAsAnotherUser() async throws {
        try await ServerFixture().test { client in
            let first = try await client.post("/session/login", json: #"{"token":"\#(try await client.devToken("a@example.com"))"}"#)
            let value = try #require(first.cookieValue(Self.name))
            let second = try await client.post("/session/login", json: #"{"token":"\#(try await client.devToken("b@example.com"))"}"#,
                                               headers: [.cookie: "\(Self.name)=\(value)"])
            let handles = [first, second].compactMap { ($0.json["session"] as? [String: Any])?["handle"] as? String }
            #expect(handles.count == 2 && handles[0] != handles[1])
        }
    }

    @Test("requests fired in parallel with the login POST are all served as the session, none logged out")
    func parallelRequestsDuringRegeneration() async throws {
        let fixture = try ServerFixture()
        try await fixture.test(.live) { client in
            let base = "http://127.0.0.1:\(client.port!)"
            let first = try await client.post("/session/login", json: #"{"token":"\#(try await client.devToken())"}"#)
            let oldValue = try #require(first.cookieValue(Self.name))
            let token = try await client.devToken()
            let cookie = ["Cookie": "\(Self.name)=\(oldValue)"]
            let statuses = try await withThrowingTaskGroup(of: (String, Int, Bool).self) { group in
                group.addTask {
                    let login = try await HTTPRequester.shared.send("POST", base + "/session/login", json: #"{"token":"\#(token)"}"#,
                                                                    headers: cookie)
                    return ("login", login.status, login.headers["set-cookie"] != nil)
                }
                for _ in 0..<20 {
                    group.addTask {
                        let page = try await HTTPRequester.shared.send("GET", base + "/session", headers: cookie)
                        return ("page", page.status, page.headers["set-cookie"] != nil)
                    }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(statuses.allSatisfy { $0.1 == 200 }, "\(statuses)")
            // Only the login answer carries a cookie; no page request was handed a new, empty session.
            #expect(statuses.filter(\.2).map(\.0) == ["login"])
        }
    }

    @Test("logout ends the session and clears the cookie; a foreign cookie of the same name is left alone")
    func logout() async throws {
        try await ServerFixture().test { client in
            let login = try await client.post("/session/login", json: #"{"token":"\#(try await client.devToken())"}"#)
            let value = try #require(login.cookieValue(Self.name))
            let out = try await client.post("/session/logout", json: "{}", headers: [.cookie: "\(Self.name)=\(value)"])
            #expect(out.status == .noContent)
            #expect(out.setCookie(Self.name)?.contains("Max-Age=0") == true)
            let after = try await client.get("/session", headers: [.cookie: "\(Self.name)=\(value)"])
            #expect(after.json["reason"] as? String == "logged_out")

            let again = try await client.post("/session/logout", json: "{}", headers: [.cookie: "\(Self.name)=\(value)"])
            #expect(again.status == .noContent)
            let foreign = try await client.post("/session/logout", json: "{}",
                                                headers: [.cookie: "\(Self.name)=\(String(repeating: "Z", count: 43))"])
            #expect(foreign.status == .noContent)
            #expect(foreign.headers[values: .setCookie].isEmpty)
            let none = try await client.post("/session/logout", json: "{}")
            #expect(none.status == .noContent)
        }
    }

    @Test("of two cookies with our name (another app's and ours), ours is found")
    func duplicateCookieNames() async throws {
        try await ServerFixture().test { client in
            let login = try await client.post("/session/login", json: #"{"token":"\#(try await client.devToken())"}"#)
            let value = try #require(login.cookieValue(Self.name))
            let response = try await client.get("/session", headers: [.cookie: "\(Self.name)=foreign-app-value; \(Self.name)=\(value)"])
            #expect(response.status == .ok)
        }
    }
}
