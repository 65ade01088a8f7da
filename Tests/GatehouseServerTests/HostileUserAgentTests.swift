import Foundation
import GatehouseCore
import GatehouseTestSupport
import HTTPTypes
import Testing

/// Field report I, item 2, end to end: a User-Agent with C1 controls and a right-to-left
/// override, sent over a real socket, then read back by the operator's CLI.
@Suite("A hostile User-Agent over HTTP")
struct HostileUserAgentTests {
    static let userAgent = "Mozilla/5.0 \u{9D}2;owned\u{9C} \u{202E}gnp.exe"
    /// What no human-readable output may carry raw.
    static let forbidden: [Unicode.Scalar] = ["\u{9D}", "\u{9C}", "\u{202E}", "\u{1B}", "\u{07}"]

    @Test("is stored as sent, and every CLI view shows it escaped; --json escapes it as \\u")
    func userAgentThroughCLI() async throws {
        let fixture = try ServerFixture()
        let base = try await fixture.test(.live) { client -> String in
            let link = try await client.post("/api/v1/auth/magic-link", json: #"{"email":"ua@example.com"}"#,
                                             headers: [.forwardedFor: "198.51.100.44", .userAgent: Self.userAgent])
            let token = try #require(link.json["dev_token"] as? String)
            let login = try await client.post("/session/login", json: #"{"token":"\#(token)"}"#,
                                              headers: [.forwardedFor: "198.51.100.44", .userAgent: Self.userAgent])
            #expect(login.status == .ok)
            return "ok"
        }
        #expect(base == "ok")
        let session = try #require(try await fixture.gatehouse.sessions.list(.init(email: "ua@example.com"), limit: 1).first)
        #expect(session.session.userAgent.map { Array($0.unicodeScalars) } == Array(Self.userAgent.unicodeScalars))

        let db = fixture.path
        for command in [["sessions", "list", "--wide"], ["sessions", "show", session.session.handle], ["audit", "tail", "--limit", "50"],
                        ["explain", "--user", "ua@example.com"], ["limits", "list"]] {
            let result = try await GatehouseBinary.run(command + ["--db", db])
            #expect(result.status == 0, "\(command): \(result.stderr)")
            #expect(!result.stdout.unicodeScalars.contains { Self.forbidden.contains($0) }, "\(command): \(result.stdout.debugDescription)")
        }
        let shown = try await GatehouseBinary.run(["sessions", "show", session.session.handle, "--db", db]).stdout
        #expect(shown.contains("Mozilla/5.0 \\x9D2;owned\\x9C \\u{202E}gnp.exe"), "\(shown)")
        let json = try await GatehouseBinary.run(["sessions", "list", "--json", "--db", db]).stdout
        #expect(json.contains(#"Mozilla\/5.0 \u009d2;owned\u009c \u202egnp.exe"#) || json.contains(#"Mozilla/5.0 \u009d2;owned\u009c \u202egnp.exe"#), "\(json)")
    }
}
