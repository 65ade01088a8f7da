import Foundation
import GatehouseTestSupport
import Testing
@testable import GatehouseCore

@Suite("Backup and restore", .serialized)
struct BackupTests {
    @Test("a backup taken under write load verifies, restores to a database whose chain verifies, and serve opens it", .sqliteOnly)
    func backupUnderLoad() async throws {
        let directory = try TemporaryDirectory()
        let db = try directory.database("live")
        let server = try await ServeProcessTests.start(db: db, ["--dev", "--workers", "0"])
        defer { _ = server.stop() }
        // The load: audit appends from this process, on connections of its own, while serve runs.
        let writer = try Gatehouse.open(path: db, options: TestEngine.options())
        let load = Task {
            var written = 0
            while !Task.isCancelled {
                _ = try? await writer.audit.record(AuditEntry(actor: .system, action: "test.load", details: ["n": String(written)]))
                written += 1
            }
            return written
        }
        while try await writer.audit.tail(limit: 1).last?.action != "test.load" { try await Task.sleep(for: .milliseconds(10)) }
        let backup = directory.path("backup.sqlite")
        let taken = try await GatehouseBinary.run(["backup", "--db", db, "--to", backup])
        let written = await { load.cancel(); return await load.value }()
        #expect(taken.status == 0 && taken.stdout.contains("audit chain intact"), "\(taken.stdout) \(taken.stderr)")
        #expect(written > 0)
        let mode = try FileManager.default.attributesOfItem(atPath: backup)[.posixPermissions] as? NSNumber
        #expect(mode?.uint16Value == 0o600)
        #expect(!FileManager.default.fileExists(atPath: backup + "-wal"))
        // An existing file is kept unless --force.
        let again = try await GatehouseBinary.run(["backup", "--db", db, "--to", backup])
        #expect(again.status == 1 && again.stderr.contains("give --force"), "\(again.stderr)")

        // Restoring over the live database is refused while serve has it open.
        let overLive = try await GatehouseBinary.run(["restore", "--from", backup, "--db", db, "--force"])
        #expect(overLive.status == 1 && overLive.stderr.contains("stop serve"), "\(overLive.stderr)")

        let restoredPath = directory.path("restored.sqlite")
        let restored = try await GatehouseBinary.run(["restore", "--from", backup, "--db", restoredPath])
        #expect(restored.status == 0, "\(restored.stderr)")
        let verified = try await GatehouseBinary.run(["audit", "verify", "--db", restoredPath])
        #expect(verified.status == 0 && verified.stdout.contains("intact"), "\(verified.stdout) \(verified.stderr)")
        let audit = try await GatehouseBinary.run(["audit", "tail", "--limit", "1", "--db", restoredPath])
        #expect(audit.stdout.contains("database.restored"))
        let second = try await ServeProcessTests.start(db: restoredPath, ["--dev", "--workers", "0"])
        defer { _ = second.stop() }
        let health = try await HTTPRequester.shared.send("GET", second.base + "/healthz")
        #expect(health.status == 200, "\(health.text)")
        try writer.database.close()

        // A damaged backup is refused and nothing is replaced.
        let damaged = directory.path("damaged.sqlite")
        var bytes = try Data(contentsOf: URL(fileURLWithPath: backup))
        for offset in stride(from: 4096, to: min(bytes.count, 40_960), by: 97) { bytes[offset] ^= 0xFF }
        try bytes.write(to: URL(fileURLWithPath: damaged))
        let refused = try await GatehouseBinary.run(["restore", "--from", damaged, "--db", directory.path("other.sqlite")])
        #expect(refused.status == 1 && refused.stderr.contains("did not verify"), "\(refused.stderr)")
        #expect(!FileManager.default.fileExists(atPath: directory.path("other.sqlite")))
    }

    @Test("on PostgreSQL, backup names pg_dump and point-in-time recovery instead", .postgresOnly)
    func postgresSaysHow() async throws {
        let directory = try TemporaryDirectory()
        let db = try directory.database("pg")
        #expect(try await GatehouseBinary.run(["init", "--db", db]).status == 0)
        let run = try await GatehouseBinary.run(["backup", "--db", db, "--to", directory.path("x.sqlite")])
        #expect(run.status == 2 && run.stderr.contains("pg_dump"), "\(run.stderr)")
    }
}
