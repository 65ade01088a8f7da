import Foundation
import Synchronization
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
        defer { server.stop() }
        // The load: audit appends from this process, on connections of its own, while serve runs.
        let writer = try Gatehouse.open(path: db, options: TestEngine.options())
        let committed = Mutex(0)
        let load = Task {
            while !Task.isCancelled {
                if (try? await writer.audit.record(AuditEntry(actor: .system, action: "test.load"))) != nil { committed.withLock { $0 += 1 } }
            }
        }
        while committed.withLock({ $0 }) < 50 { try await Task.sleep(for: .milliseconds(10)) }
        let backup = directory.path("backup.sqlite")
        let atStart = committed.withLock { $0 }
        let taken = try await GatehouseBinary.run(["backup", "--db", db, "--to", backup])
        // Writes went on committing while the backup ran (it takes no lock writers wait for)…
        let during = committed.withLock { $0 }
        while committed.withLock({ $0 }) < during + 20 { try await Task.sleep(for: .milliseconds(10)) }
        load.cancel()
        _ = await load.value
        #expect(taken.status == 0 && taken.stdout.contains("audit chain intact"), "\(taken.stdout) \(taken.stderr)")
        #expect(during > atStart, "no write committed while the backup ran")
        let mode = try FileManager.default.attributesOfItem(atPath: backup)[.posixPermissions] as? NSNumber
        #expect(mode?.uint16Value == 0o600)
        #expect(!FileManager.default.fileExists(atPath: backup + "-wal"))
        // An existing file is kept unless --force.
        let again = try await GatehouseBinary.run(["backup", "--db", db, "--to", backup])
        #expect(again.status == 1 && again.stderr.contains("give --force"), "\(again.stderr)")

        // Restoring over the live database is refused while serve has it open.
        try writer.database.close()
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
        defer { second.stop() }
        let health = try await HTTPRequester.shared.send("GET", second.base + "/healthz")
        #expect(health.status == 200, "\(health.text)")

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
