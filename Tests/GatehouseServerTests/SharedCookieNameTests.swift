import Foundation
import GatehouseTestSupport
import Testing

/// The incident Gatehouse was born from: two apps on two localhost ports with one cookie name.
/// Browsers keep cookies per host, not per port (RFC 6265 §8.5), so logging in to the second
/// app overwrites the first app's cookie and the user "is logged out" of the first.
@Suite("Two servers, one cookie name (real processes)")
struct SharedCookieNameTests {
    /// A browser's cookie store for one host: name → value, whatever the port.
    final class HostCookieJar: @unchecked Sendable {
        var cookies: [String: String] = [:]

        func take(_ result: HTTPResult) {
            guard let header = result.headers["set-cookie"], let pair = header.split(separator: ";").first else { return }
            let parts = pair.split(separator: "=", maxSplits: 1).map(String.init)
            if parts.count == 2 { cookies[parts[0]] = parts[1] }
        }

        var header: [String: String] {
            cookies.isEmpty ? [:] : ["Cookie": cookies.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: "; ")]
        }
    }

    static func browserLogin(_ base: String, jar: HostCookieJar) async throws {
        let http = HTTPRequester.shared
        let link = try await http.send("POST", base + "/api/v1/auth/magic-link", json: #"{"email":"alice@example.com"}"#)
        let token = try #require(link.json["dev_token"] as? String, "\(link.text)")
        let login = try await http.send("POST", base + "/session/login", json: #"{"token":"\#(token)"}"#,
                                        headers: jar.header.merging(["User-Agent": "Firefox/140"]) { a, _ in a })
        #expect(login.status == 200, "\(login.text)")
        jar.take(login)
    }

    static func visit(_ base: String, jar: HostCookieJar) async throws -> Int {
        try await HTTPRequester.shared.send("GET", base + "/session", headers: jar.header.merging(["User-Agent": "Firefox/140"]) { a, _ in a }).status
    }

    @Test("the second app's login overwrites the first's cookie; explain names the foreign cookie; distinct names fix it")
    func sharedName() async throws {
        let directory = try TemporaryDirectory()
        let (dbA, dbB) = (try directory.database("a"), try directory.database("b"))
        let appA = try await ServeProcessTests.start(db: dbA, ["--dev", "--insecure-cookies", "--cookie-name", "session"])
        let appB = try await ServeProcessTests.start(db: dbB, ["--dev", "--insecure-cookies", "--cookie-name", "session"])
        defer { appA.stop(); appB.stop() }
        // The development warning names the problem before it happens.
        let startup = appA.process.outputSoFar() + appA.process.errorsSoFar()
        #expect(startup.contains("warning") && startup.contains("'session'"), "\(startup)")

        let browser = HostCookieJar()
        try await Self.browserLogin(appA.base, jar: browser)
        let cookieOfA = try #require(browser.cookies["session"])
        #expect(try await Self.visit(appA.base, jar: browser) == 200)
        try await Self.browserLogin(appB.base, jar: browser)
        #expect(browser.cookies["session"] != cookieOfA, "B's cookie replaced A's in the browser")
        #expect(try await Self.visit(appA.base, jar: browser) == 401, "the user is 'logged out' of A")

        let byCookie = try await GatehouseBinary.run(["explain", "--db", dbA, "--cookie", cookieOfA])
        #expect(byCookie.status == 0, "\(byCookie.stderr)")
        #expect(byCookie.stdout.hasPrefix("Why: foreign_cookie — "), "\(byCookie.stdout)")
        #expect(byCookie.stdout.contains("sent a 'session' cookie this server never issued") && byCookie.stdout.contains("RFC 6265 §8.5"))
        #expect(!byCookie.stdout.contains(cookieOfA), "the secret is not printed")
        let byUser = try await GatehouseBinary.run(["explain", "--db", dbA, "--user", "alice@example.com", "--json"])
        let json = try #require(try JSONSerialization.jsonObject(with: Data(byUser.stdout.utf8)) as? [String: Any], "\(byUser.stderr)")
        #expect((json["verdict"] as? [String: Any])?["cause"] as? String == "foreign_cookie")
        let usage = try await GatehouseBinary.run(["explain", "--db", dbA])
        #expect(usage.status == 2 && usage.stderr.contains("give exactly one of"))
        // Secret values are base64url: one that starts with '-' is still a value, not a flag.
        let dashed = try await GatehouseBinary.run(["explain", "--db", dbA, "--cookie", "-" + String(repeating: "x", count: 42)])
        #expect(dashed.status == 0 && dashed.stdout.hasPrefix("Why: never_issued"), "\(dashed.stderr)")

        // Distinct names: the browser keeps both cookies and each app reads its own.
        let appC = try await ServeProcessTests.start(db: try directory.database("c"), ["--dev", "--insecure-cookies", "--cookie-name", "app_c_session"])
        let appD = try await ServeProcessTests.start(db: try directory.database("d"), ["--dev", "--insecure-cookies", "--cookie-name", "app_d_session"])
        defer { appC.stop(); appD.stop() }
        let second = HostCookieJar()
        try await Self.browserLogin(appC.base, jar: second)
        try await Self.browserLogin(appD.base, jar: second)
        #expect(second.cookies.count == 2)
        #expect(try await Self.visit(appC.base, jar: second) == 200, "still logged in to C")
        #expect(try await Self.visit(appD.base, jar: second) == 200)
    }
}
