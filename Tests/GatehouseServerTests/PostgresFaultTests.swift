import Foundation
import GatehouseCore
import GatehouseTestSupport
import Testing

/// The PostgreSQL engine's faults as an operator and a client meet them: sentences from the CLI
/// (exit 1, never the password), 503 problems from the API while the server is away, and
/// recovery without a restart when it comes back.
@Suite("PostgreSQL faults (real server, real processes)",
       .enabled(if: PostgresCluster.testsRun, "skipped: \(PostgresCluster.unavailableReason ?? "")"))
struct PostgresFaultTests {
    @Test("the CLI names each fault in a sentence: wrong password, missing database, no schema, a newer schema, no server")
    func cliFaults() async throws {
        let cluster = try await PostgresCluster.start()
        defer { cluster.stop() }
        try await cluster.psql("CREATE DATABASE gate")
        func refusal(_ url: String) async throws -> String {
            let result = try await GatehouseBinary.run(["sessions", "list", "--db", url])
            #expect(result.status == 1, "\(result.stdout)\(result.stderr)")
            return result.stderr
        }
        let wrong = try await refusal(cluster.url(database: "gate", password: "not-the-password"))
        #expect(wrong.contains("password authentication failed") && !wrong.contains("not-the-password"), "\(wrong)")
        #expect(try await refusal(cluster.url(database: "nothere")).contains("the database nothere does not exist"))
        let empty = try await refusal(cluster.url(database: "gate"))
        #expect(empty.contains("no Gatehouse schema") && empty.contains("gatehouse init"), "\(empty)")

        #expect(try await GatehouseBinary.run(["init", "--db", cluster.url(database: "gate")]).status == 0)
        #expect(try await GatehouseBinary.run(["sessions", "list", "--db", cluster.url(database: "gate")]).status == 0)
        try await cluster.psql("INSERT INTO gatehouse_migrations VALUES ('v99-from-the-future', 0)", database: "gate")
        let newer = try await refusal(cluster.url(database: "gate"))
        #expect(newer.contains("newer Gatehouse") && newer.contains("v99-from-the-future"), "\(newer)")
        try await cluster.psql("DELETE FROM gatehouse_migrations WHERE identifier = 'v99-from-the-future'", database: "gate")

        try await cluster.pause()
        let gone = try await refusal(cluster.url(database: "gate"))
        #expect(gone.contains("socket does not exist") || gone.contains("connection refused"), "\(gone)")
    }

    @Test("PostgreSQL restarted under a running serve: requests meanwhile get 503 problems, never a 500 or a hang; it recovers by itself")
    func serverRestart() async throws {
        let cluster = try await PostgresCluster.start()
        defer { cluster.stop() }
        let server = try await ServeProcessTests.start(db: cluster.url(), ["--dev"])
        defer { server.stop() }
        let http = HTTPRequester.shared
        func magicLink() async throws -> HTTPResult {
            try await http.send("POST", server.base + "/api/v1/auth/magic-link", json: #"{"email":"pat@example.com"}"#)
        }
        #expect(try await magicLink().status == 202)

        try await cluster.pause()
        for _ in 0..<3 {
            let answer = try await magicLink()
            #expect(answer.status == 503, "\(answer.status) \(answer.text)")
            #expect(answer.headers["content-type"] == "application/problem+json")
            #expect(answer.headers["retry-after"] != nil)
        }
        let health = try await http.send("GET", server.base + "/healthz")
        #expect(health.status == 503, "\(health.text)")

        try await cluster.resume()
        // The pool reconnects on its own: wait for the state, not for a time.
        #expect(try await eventually(every: .milliseconds(200)) { (try? await magicLink().status) == 202 })
    }
}
