import Crypto
import Foundation
import GatehouseCore
import GatehouseServer
import GatehouseTestSupport
import HTTPTypes
import HummingbirdTesting
import Testing

@Suite("Document jobs API")
struct DocumentJobAPITests {
    @Test("a user starts an export of their own data, follows it and downloads both documents")
    func ownExport() async throws {
        let fixture = try ServerFixture(options: { $0.workers = 1 })
        try await fixture.test { client in
            let tokens = try await client.apiLogin("alice@example.com")
            let started = try await client.post("/api/v1/documents/jobs", json: #"{"kind":"user-export"}"#, headers: tokens.bearer)
            #expect(started.status == .accepted)
            let id = try #require(started.json["id"] as? Int)
            #expect(started.headers[.location] == "/api/v1/documents/jobs/\(id)")
            let again = try await client.post("/api/v1/documents/jobs", json: #"{"kind":"user-export"}"#, headers: tokens.bearer)
            // A second click while it waits returns the same job; the server's own worker may
            // have finished it already (a fast machine), and then a second export is right.
            if again.json["id"] as? Int != id {
                let first = try await client.get("/api/v1/documents/jobs/\(id)", headers: tokens.bearer)
                #expect(first.json["state"] as? String == "succeeded", "a second job while the first was unfinished: \(again.text)")
            }

            var status = try await client.get("/api/v1/documents/jobs/\(id)", headers: tokens.bearer)
            _ = try await eventually {
                status = try await client.get("/api/v1/documents/jobs/\(id)", headers: tokens.bearer)
                return status.json["state"] as? String == "succeeded"
            }
            #expect(status.json["state"] as? String == "succeeded")
            #expect(status.json["progress"] as? Int == 100)
            let documents = try #require(status.json["documents"] as? [[String: Any]])
            #expect(documents.count == 2)
            #expect(!status.text.contains("/tmp/") && !status.text.contains("lease"))

            let download = try await client.get("/api/v1/documents/jobs/\(id)/output", headers: tokens.bearer)
            #expect(download.status == .ok)
            #expect(download.headers[.contentType] == "application/json")
            let bytes = Data(download.text.utf8)
            #expect(Fingerprint.hex(Array(SHA256.hash(data: bytes))) == documents[0]["sha256"] as? String)
            let export = try #require(try JSONSerialization.jsonObject(with: bytes) as? [String: Any])
            #expect((export["user"] as? [String: Any])?["email"] as? String == "alice@example.com")
            let markdown = try await client.get("/api/v1/documents/jobs/\(id)/output?name=\(documents[1]["name"] as! String)", headers: tokens.bearer)
            #expect(markdown.headers[.contentType] == "text/markdown")
            #expect(markdown.text.hasPrefix("# Gatehouse data export"))
            let missing = try await client.get("/api/v1/documents/jobs/\(id)/output?name=nope.txt", headers: tokens.bearer)
            #expect(missing.status == .notFound)
        }
    }

    @Test("another user's job is 404, an audit report is 403, an unfinished job's output is 409, no token is 401")
    func refusals() async throws {
        let fixture = try ServerFixture() // no embedded worker: the job stays queued
        try await fixture.test { client in
            let alice = try await client.apiLogin("alice@example.com")
            let mallory = try await client.apiLogin("mallory@example.com", ip: "203.0.113.66")
            let started = try await client.post("/api/v1/documents/jobs", json: #"{"kind":"user-export"}"#, headers: alice.bearer)
            let id = try #require(started.json["id"] as? Int)
            let notReady = try await client.get("/api/v1/documents/jobs/\(id)/output", headers: alice.bearer)
            #expect(notReady.status == .conflict)
            #expect(notReady.problemKind == "not-ready")
            for path in ["/api/v1/documents/jobs/\(id)", "/api/v1/documents/jobs/\(id)/output", "/api/v1/documents/jobs/999999",
                         "/api/v1/documents/jobs/not-a-number"] {
                let response = try await client.get(path, headers: mallory.bearer)
                #expect(response.status == .notFound, "\(path)")
            }
            let report = try await client.post("/api/v1/documents/jobs", json: #"{"kind":"audit-report"}"#, headers: alice.bearer)
            #expect(report.status == .forbidden)
            let unknown = try await client.post("/api/v1/documents/jobs", json: #"{"kind":"nope"}"#, headers: alice.bearer)
            #expect(unknown.status == .badRequest)
            let anonymous = try await client.post("/api/v1/documents/jobs", json: #"{"kind":"user-export"}"#)
            #expect(anonymous.status == .unauthorized)
        }
        let job = try #require(try await fixture.gatehouse.jobs.list().first)
        #expect(job.requestedBy.hasPrefix("user:"))
    }
}
