import Foundation
import GatehouseCore
import GatehouseServer
import GatehouseTestSupport
import HTTPTypes
import HummingbirdTesting
import NIOCore
import Testing

@Suite("Errors and request ids")
struct ProblemTests {
    @Test("malformed JSON 400, wrong shape 400, wrong content type 415, oversized body 413, unknown route 404, wrong method 405")
    func errorPaths() async throws {
        try await ServerFixture().test { client in
            let cases: [(String, HTTPRequest.Method, String, HTTPFields, String?, HTTPResponse.Status, String)] = [
                ("malformed", .post, "/api/v1/auth/verify", [:], "{", .badRequest, "malformed-json"),
                ("empty body", .post, "/api/v1/auth/verify", [:], "", .badRequest, "malformed-json"),
                ("missing field", .post, "/api/v1/auth/verify", [:], #"{"tokn":"x"}"#, .badRequest, "invalid-request"),
                ("wrong type", .post, "/api/v1/auth/refresh", [:], #"{"refresh_token":42}"#, .badRequest, "invalid-request"),
                ("array", .post, "/api/v1/auth/magic-link", [:], "[]", .badRequest, "invalid-request"),
                ("text/plain", .post, "/api/v1/auth/verify", [.contentType: "text/plain"], #"{"token":"x"}"#, .unsupportedMediaType, "unsupported-media-type"),
                ("form", .post, "/session/login", [.contentType: "application/x-www-form-urlencoded"], "token=x", .unsupportedMediaType, "unsupported-media-type"),
                ("unknown route", .get, "/api/v1/nothing", [:], nil, .notFound, "not-found"),
                ("root", .get, "/", [:], nil, .notFound, "not-found"),
                ("wrong method", .get, "/api/v1/auth/refresh", [:], nil, .methodNotAllowed, "method-not-allowed"),
                ("delete me", .delete, "/api/v1/auth/me", [:], nil, .methodNotAllowed, "method-not-allowed"),
            ]
            for (name, method, path, headers, body, status, kind) in cases {
                var fields = headers
                if body != nil, fields[.contentType] == nil { fields[.contentType] = "application/json" }
                let response = try await client.execute(uri: path, method: method, headers: fields, body: body.map { ByteBuffer(string: $0) })
                #expect(response.status == status, "\(name)")
                #expect(response.problemKind == kind, "\(name): \(response.text)")
                #expect(response.json["status"] as? Int == Int(status.code), "\(name)")
                #expect(response.json["title"] as? String != nil, "\(name)")
            }
            let wrongMethod = try await client.get("/api/v1/auth/refresh")
            #expect(wrongMethod.headers[.allow] == "POST")
        }
    }

    @Test("a body over 64 KiB is 413 (through the router and over a real socket)")
    func bodyTooLarge() async throws {
        try await ServerFixture().test { client in
            let big = #"{"email":"\#(String(repeating: "a", count: 70_000))@example.com"}"#
            let response = try await client.post("/api/v1/auth/magic-link", json: big)
            #expect(response.status == .contentTooLarge)
            #expect(response.problemKind == "body-too-large")
            let justUnder = #"{"email":"\#(String(repeating: "a", count: 60_000))@example.com"}"#
            let under = try await client.post("/api/v1/auth/magic-link", json: justUnder)
            #expect(under.status == .unprocessableContent) // read, parsed, refused as an address
        }
        try await ServerFixture().test(.live) { client in
            let big = #"{"token":"\#(String(repeating: "a", count: 100_000))"}"#
            let response = try await HTTPRequester.shared.send("POST", "http://127.0.0.1:\(client.port!)/api/v1/auth/verify", json: big)
            #expect(response.status == 413)
        }
    }

    @Test("X-Request-Id is echoed when sane, generated otherwise, and stored in the audit rows")
    func requestIds() async throws {
        let fixture = try ServerFixture()
        try await fixture.test { client in
            let given = try await client.post("/api/v1/auth/magic-link", json: #"{"email":"a@example.com"}"#,
                                              headers: [.requestId: "trace-42.abc"])
            #expect(given.headers[.requestId] == "trace-42.abc")
            let generated = try await client.get("/healthz")
            #expect(generated.headers[.requestId]?.hasPrefix("req_") == true)
            let hostile = try await client.get("/healthz", headers: [.requestId: "x\" ; rm -rf /"])
            #expect(hostile.headers[.requestId]?.hasPrefix("req_") == true)
            let problem = try await client.get("/nothing", headers: [.requestId: "trace-43"])
            #expect(problem.json["request_id"] as? String == "trace-43")
            #expect(problem.headers[.requestId] == "trace-43")
        }
        let events = try await fixture.gatehouse.audit.tail(limit: 10)
        #expect(events.contains { $0.action == "magic_link.issued" && $0.requestId == "trace-42.abc" })
    }

    @Test("the client address is the socket's unless --trust-proxy, then the last X-Forwarded-For entry")
    func clientAddress() async throws {
        let trusted = try ServerFixture()
        try await trusted.test { client in
            _ = try await client.post("/api/v1/auth/magic-link", json: #"{"email":"a@example.com"}"#,
                                      headers: [.forwardedFor: "10.9.9.9, 192.0.2.1"])
        }
        #expect(try await trusted.gatehouse.audit.tail(limit: 5).contains { $0.ip == "192.0.2.1" })

        let direct = try ServerFixture(options: { $0.trustProxy = false })
        try await direct.test(.live) { client in
            _ = try await HTTPRequester.shared.send("POST", "http://127.0.0.1:\(client.port!)/api/v1/auth/magic-link",
                                                    json: #"{"email":"a@example.com"}"#, headers: ["X-Forwarded-For": "192.0.2.1"])
        }
        let ips = try await direct.gatehouse.audit.tail(limit: 5).compactMap(\.ip)
        #expect(ips.contains("127.0.0.1"))
        #expect(!ips.contains("192.0.2.1"))
    }

    @Test("under --trust-proxy an X-Forwarded-For that is not an IP address is refused: the socket address is used and the refusal counted")
    func forwardedForMustBeAnAddress() async throws {
        let fixture = try ServerFixture()
        let hostile = ["not-an-ip", "10.0.0.1 OR 1=1", "10.0.0.1\u{85}\u{9B}31m", "192.0.2.1:8080", "[2001:db8::1]", ""]
        try await fixture.test(.live) { client in
            let base = "http://127.0.0.1:\(client.port!)"
            for (index, value) in hostile.enumerated() {
                let response = try await HTTPRequester.shared.send(
                    "POST", base + "/api/v1/auth/magic-link", json: #"{"email":"x\#(index)@example.com"}"#,
                    headers: ["X-Forwarded-For": "198.51.100.1, " + value])
                #expect(response.status == 202, "\(value): \(response.text)")
            }
            _ = try await HTTPRequester.shared.send("POST", base + "/api/v1/auth/magic-link", json: #"{"email":"v6@example.com"}"#,
                                                    headers: ["X-Forwarded-For": "2001:DB8:0:0::1"])
            let metrics = try await HTTPRequester.shared.send("GET", base + "/metrics").text
            #expect(metrics.contains("gatehouse_http_forwarded_for_refused_total \(hostile.count)"), "\(metrics)")
        }
        let events = try await fixture.gatehouse.audit.tail(limit: 50).filter { $0.action == "magic_link.issued" }
        #expect(Set(events.compactMap(\.ip)) == ["127.0.0.1", "2001:db8::1"], "\(events.map(\.ip))")
        let keys = try await fixture.gatehouse.rateLimits.buckets(orderedBy: .key, limit: 100).map(\.key)
        #expect(keys.allSatisfy { !$0.contains("OR") && !$0.contains("not-an-ip") && !$0.contains("\u{85}") }, "\(keys)")
    }

    @Test("no input a client can send gets a 500: a sweep of hostile bodies over every JSON route")
    func neverAServerError() async throws {
        let fixture = try ServerFixture()
        let bodies = ["", "null", "true", "0", "\"x\"", "{}", "[]", "{\"email\":null}", "{\"email\":[]}", "{\"token\":{}}",
                      "{\"refresh_token\":\"\u{0}\"}", "{\"email\":\"\u{202E}@example.com\"}", String(repeating: "[", count: 10_000),
                      "{\"token\":\"" + String(repeating: "é", count: 1000) + "\"}", "\u{FEFF}{}", "{\"a\":1e99999}"]
        try await fixture.test { client in
            for route in GatehouseServer.catalog.routes where route.method == .post {
                for body in bodies {
                    let response = try await client.post(route.path, json: body, headers: [.authorization: "Bearer \(body.prefix(50))"])
                    #expect(response.status.code < 500, "\(route.path) \(body.prefix(30)): \(response.text)")
                    if response.status.code >= 400 { #expect(response.headers[.contentType] == "application/problem+json") }
                }
            }
        }
    }

    @Test("healthz reports the schema; metrics count requests by route template")
    func healthAndMetrics() async throws {
        try await ServerFixture().test { client in
            let health = try await client.get("/healthz")
            #expect(health.status == .ok)
            #expect((health.json["schema"] as? String)?.hasPrefix("v") == true)
            _ = try await client.get("/api/v1/random-\(UUID())")
            let metrics = try await client.get("/metrics")
            #expect(metrics.headers[.contentType]?.hasPrefix("text/plain; version=0.0.4") == true)
            #expect(metrics.text.contains(#"gatehouse_http_requests_total{method="GET",route="/healthz",status="200"} 1"#))
            #expect(metrics.text.contains(#"route="unmatched",status="404""#))
            #expect(!metrics.text.contains("random-"))
            #expect(metrics.text.contains("gatehouse_http_request_duration_seconds_bucket"))
            #expect(metrics.text.contains("gatehouse_db_write_transactions"))
            #expect(metrics.text.contains("gatehouse_db_write_inline"))
        }
    }
}
