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
    /// What opening `url` says: "opened", or the error's sentence.
    static func refusal(_ url: String) -> String {
        do {
            try GatehouseDatabase.open(path: url, options: .init(createIfMissing: true)).close()
            return "opened"
        } catch {
            return "\(error)"
        }
    }

    @Test("a URL with the socket, user, password and database opens, as a role that owns only its database; each fault is a sentence without the password")
    func connectAndFaults() throws {
        let cluster = try PostgresCluster()
        defer { cluster.stop() }
        let database = try GatehouseDatabase.open(path: cluster.url(), options: .init(createIfMissing: true))
        #expect(try database.pragmas()["server_version"]?.first?.isNumber == true)
        try database.close()

        let wrong = Self.refusal(cluster.url(password: "not-the-password"))
        #expect(wrong.contains("password authentication failed for user postgres") && !wrong.contains("not-the-password"), "\(wrong)")
        let missing = Self.refusal(cluster.url(database: "nothere"))
        #expect(missing.contains("the database nothere does not exist"), "\(missing)")
        let noPassword = Self.refusal("postgresql:///postgres?host=\(cluster.socketDirectory)&port=\(cluster.port)&user=postgres")
        #expect(noPassword.contains("asks user postgres for a password"), "\(noPassword)")
        try cluster.psql("CREATE ROLE app LOGIN PASSWORD 'app-pw'")
        try cluster.psql("CREATE DATABASE gate OWNER app")
        #expect(Self.refusal(cluster.url(database: "gate", password: "app-pw", user: "app")) == "opened")

        try cluster.pause()
        let gone = Self.refusal(cluster.url())
        #expect(gone.contains("the socket does not exist"), "\(gone)")
    }

    @Test("nothing listening on a TCP port: connection refused, named with host and port")
    func refused() {
        let answer = Self.refusal("postgresql://app:secret@127.0.0.1:1/gate?sslmode=disable")
        #expect(answer.contains("no PostgreSQL server answers at 127.0.0.1:1 (connection refused)") && !answer.contains("secret"), "\(answer)")
    }
}
