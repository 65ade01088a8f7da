import Foundation
import GatehouseCore
import GatehouseTestSupport
import Testing

/// The first piece of the PostgreSQL engine against a real, throwaway server: a connection by
/// URL (Unix socket or TCP), and a sentence for each way it can fail.
@Suite("PostgreSQL: connecting, and the faults in sentences",
       .enabled(if: PostgresCluster.testsRun, "skipped: \(PostgresCluster.unavailableReason ?? "")"))
struct PostgresProbeTests {
    static func location(_ url: String) throws -> PostgresLocation {
        guard case .postgres(let location) = try DatabaseLocation(url, environment: [:]) else { throw ProbeTestError.notPostgres }
        return location
    }

    enum ProbeTestError: Error { case notPostgres }

    static func refusal(_ url: String) async throws -> String {
        let target = try location(url)
        do {
            _ = try await PostgresProbe.connect(target)
            return "connected"
        } catch {
            return error.description
        }
    }

    @Test("a URL with the socket, user, password and database connects; each fault is a sentence without the password")
    func connectAndFaults() async throws {
        let cluster = try PostgresCluster()
        defer { cluster.stop() }
        let server = try await PostgresProbe.connect(try Self.location(cluster.url()))
        #expect(server.user == "postgres" && server.database == "postgres")
        #expect(server.version.first?.isNumber == true, "\(server.version)")

        let wrong = try await Self.refusal(cluster.url(password: "not-the-password"))
        #expect(wrong.contains("password authentication failed for user postgres") && !wrong.contains("not-the-password"), "\(wrong)")
        let missing = try await Self.refusal(cluster.url(database: "nothere"))
        #expect(missing.contains("the database nothere does not exist"), "\(missing)")
        let noPassword = try await Self.refusal("postgresql:///postgres?host=\(cluster.socketDirectory)&port=\(cluster.port)&user=postgres")
        #expect(noPassword.contains("asks user postgres for a password"), "\(noPassword)")
        try cluster.psql("CREATE ROLE app LOGIN PASSWORD 'app-pw'")
        try cluster.psql("CREATE DATABASE gate OWNER app")
        let app = try await PostgresProbe.connect(try Self.location(cluster.url(database: "gate", password: "app-pw", user: "app")))
        #expect(app.user == "app" && app.database == "gate")

        try cluster.pause()
        let gone = try await Self.refusal(cluster.url())
        #expect(gone.contains("the socket does not exist"), "\(gone)")
    }

    @Test("nothing listening on a TCP port: connection refused, named with host and port")
    func refused() async throws {
        let answer = try await Self.refusal("postgresql://app:secret@127.0.0.1:1/gate?sslmode=disable")
        #expect(answer.contains("no PostgreSQL server answers at 127.0.0.1:1 (connection refused)") && !answer.contains("secret"), "\(answer)")
    }
}
