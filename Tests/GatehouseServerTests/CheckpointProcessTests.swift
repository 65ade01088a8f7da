import Foundation
import GatehouseTestSupport
import Testing
@testable import GatehouseCore

@Suite("Signed audit checkpoints from the command line and on serve's schedule")
struct CheckpointProcessTests {
    @Test("serve writes a checkpoint on its schedule; audit verify --checkpoints passes, then names a cut tail and exits 1")
    func scheduleAndVerify() async throws {
        let directory = try TemporaryDirectory()
        let db = try directory.database("checkpoints")
        #expect(try await GatehouseBinary.run(["init", "--db", db]).status == 0)
        // By hand first: the key is made, the head signed.
        let created = try await GatehouseBinary.run(["audit", "checkpoint", "--db", db, "--key", directory.path("audit.key"), "--create-key",
                                                     "--to", directory.path("signed")])
        #expect(created.status == 0 && created.stdout.contains("created checkpoint key"), "\(created.stderr)")
        let again = try await GatehouseBinary.run(["audit", "checkpoint", "--db", db, "--key", directory.path("audit.key"), "--create-key",
                                                   "--to", directory.path("signed")])
        #expect(again.status == 1 && again.stderr.contains("cannot create the checkpoint key"), "\(again.stderr)")
        // Rows after it, so that serve's schedule has a new head to sign.
        let writer = try Gatehouse.open(path: db, options: TestEngine.options())
        _ = try await writer.magicLinks.requestMagicLink(email: "audited@example.com")
        try writer.database.close()
        let config = directory.path("gatehouse.toml")
        try """
            [audit]
            checkpoint_key = "audit.key"
            checkpoint_dir = "signed"
            checkpoint_interval = 60
            """.write(toFile: config, atomically: true, encoding: .utf8)
        let server = try await ServeProcessTests.start(db: db, ["--dev", "--config", config])
        defer { server.stop() }
        // The schedule's first tick signs at start: wait for the second line.
        let file = CheckpointFile(directory: directory.path("signed"))
        let deadline = ContinuousClock.now + .seconds(90)
        while try file.read().count < 2, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(100)) }
        let first = try #require(try file.read().last?.checkpoint)

        let verified = try await GatehouseBinary.run(["audit", "verify", "--db", db, "--config", config])
        #expect(verified.status == 0 && verified.stdout.contains("2 signed checkpoint(s) verified"), "\(verified.stdout) \(verified.stderr)")

        _ = await server.stopped()
        try TestEngine.rawExecute(TestEngine.isSQLite
            ? "DROP TRIGGER audit_events_no_delete; DELETE FROM audit_events WHERE seq >= \(first.seq)"
            : "DROP TRIGGER audit_events_append_only ON audit_events; DELETE FROM audit_events WHERE seq >= \(first.seq)", on: db)
        let cut = try await GatehouseBinary.run(["audit", "verify", "--db", db, "--checkpoints", directory.path("signed"),
                                                 "--public-key", directory.path("audit.key.pub")])
        #expect(cut.status == 1 && cut.stderr.contains("the tail was cut"), "\(cut.stdout) \(cut.stderr)")
    }
}
