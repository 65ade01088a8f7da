import Foundation
import GatehouseCore
import GatehouseTestSupport
import Testing

/// Opening a PostgreSQL database by URL (Unix socket or TCP) against a real, throwaway server,
/// and a sentence for each way it can fail. (`PostgresFaultTests` follows the same faults
/// through the CLI.)
@Suite("PostgreSQL: connecting, and the faults in sentences",
       .enabled(if: PostgresCluster.testsRun, "skipped: \(PostgresCluster.unavailableReason ?? "")"))
struct PostgresConnectionTests {
    /// What opening `url` says: "opened", or the error's sentence. Opening blocks its thread
    /// (connecting, migrating), so it runs off the cooperative pool.
    static func refusal(_ url: String) async -> String {
        do {
            try await offPool { try GatehouseDatabase.open(path: url, options: .init(createIfMissing: true)).close() }
            return "opened"
        } catch {
            return "\(error)"
        }
    }

    @Test("a URL with the socket, user, password and database opens, as a role that owns only its database; each fault is a sentence without the password")
    func connectAndFaults() async throws {
        let cluster = try await PostgresCluster.start()
        defer { cluster.stop() }
        let database = try GatehouseDatabase.open(path: cluster.url(), options: .init(createIfMissing: true))
        #expect(try database.pragmas()["server_version"]?.first?.isNumber == true)
        try database.close()

        let wrong = await Self.refusal(cluster.url(password: "not-the-password"))
        #expect(wrong.contains("password authentication failed for user postgres") && !wrong.contains("not-the-password"), "\(wrong)")
        let missing = await Self.refusal(cluster.url(database: "nothere"))
        #expect(missing.contains("the database nothere does not exist"), "\(missing)")
        let noPassword = await Self.refusal("postgresql:///postgres?host=\(cluster.socketDirectory)&port=\(cluster.port)&user=postgres")
        #expect(noPassword.contains("asks user postgres for a password"), "\(noPassword)")
        try await cluster.psql("CREATE ROLE app LOGIN PASSWORD 'app-pw'")
        try await cluster.psql("CREATE DATABASE gate OWNER app")
        #expect(await Self.refusal(cluster.url(database: "gate", password: "app-pw", user: "app")) == "opened")

        try await cluster.pause()
        let gone = await Self.refusal(cluster.url())
        #expect(gone.contains("the socket does not exist"), "\(gone)")
    }

    @Test("nothing listening on a TCP port: connection refused, named with host and port")
    func refused() async {
        let answer = await Self.refusal("postgresql://app:secret@127.0.0.1:1/gate?sslmode=disable")
        #expect(answer.contains("no PostgreSQL server answers at 127.0.0.1:1 (connection refused)") && !answer.contains("secret"), "\(answer)")
    }
}
