import Foundation
import GatehouseTestSupport
import Testing
@testable import GatehouseCore

@Suite("Audit archives")
struct AuditArchiveTests {
    static let oncall = Actor.operator(OperatorIdentity(name: "oncall", sshClient: nil, via: "cli"))

    @Test("archive, then verify end to end: archive and database one chain, the cut signed; rows above the cut still guarded")
    func archiveThenVerify() async throws {
        let test = try TestGatehouse()
        for index in 0..<5 { _ = try await test.apiLogin("old\(index)@example.com") }
        let key = try CheckpointKey.create(path: test.directory.path("audit.key"))
        let checkpoints = CheckpointFile(directory: test.directory.path("checkpoints"))
        // A checkpoint whose row will be archived: held against the archive file later.
        let early = try await test.gatehouse.audit.checkpoint(key: key, file: checkpoints, by: Self.oncall)
        test.clock.advance(by: 10 * 86_400)
        let cutoff = test.clock.now()
        for index in 0..<3 { _ = try await test.apiLogin("new\(index)@example.com") }
        let before = try await test.gatehouse.audit.verify()
        let archives = test.directory.path("archives")

        let record = try #require(try await test.gatehouse.audit.archive(before: cutoff, to: archives, checkpoint: (key, checkpoints), by: Self.oncall))
        #expect(record.firstSeq == 1 && record.rowCount == record.lastSeq)
        let mode = try FileManager.default.attributesOfItem(atPath: archives + "/" + record.file)[.posixPermissions] as? NSNumber
        #expect(mode?.uint16Value == 0o600)
        #expect(try await test.gatehouse.database.read { tx in try tx.fetchScalar(Int.self, "SELECT count(*) FROM audit_events WHERE seq <= ?", [record.lastSeq]) } == 0)

        // The database alone verifies from the cut on, and says what is archived.
        let alone = try await test.gatehouse.audit.verify()
        #expect(alone.isIntact && alone.archivedThrough == record.lastSeq, "\(alone)")
        // End to end: every row, archived or not (plus the audit.archived row).
        let whole = try await test.gatehouse.audit.verify(archivesIn: archives)
        #expect(whole.isIntact && whole.checked == before.checked + 1, "\(whole)")
        // The checkpoint bridging the cut holds, and the early one against its archived row.
        let report = try await test.gatehouse.audit.verify(checkpoints: try checkpoints.read(), publicKey: key.publicKey, archivesIn: archives)
        #expect(report.isIntact && report.newest?.seq == record.lastSeq && report.checkpoints == 2, "\(report.problems)")
        #expect(early.seq < record.lastSeq)
        // A checkpoint of a row now archived is held against that row in its file: one signed
        // over a different hash (as after an archive rewritten and rehashed) is named.
        let log = try await test.gatehouse.audit.logID()
        _ = try AuditLog.sign(log: log, seq: 3, head: Data(repeating: 7, count: 32), key: key, file: checkpoints, at: test.clock.now())
        let withArchives = try await test.gatehouse.audit.verify(checkpoints: try checkpoints.read(), publicKey: key.publicKey, archivesIn: archives)
        #expect(withArchives.problems.contains { $0.contains("row 3 in archive") && $0.contains("archive was rewritten") }, "\(withArchives.problems)")
        // A second run has nothing older to take.
        #expect(try await test.gatehouse.audit.archive(before: cutoff, to: archives, checkpoint: nil, by: Self.oncall) == nil)
        // Rows above the cut are as append-only as ever.
        #expect(throws: (any Error).self) { try test.rawWrite("DELETE FROM audit_events WHERE seq = \(record.lastSeq + 1)") }
    }

    @Test("a changed or missing archive is named")
    func tampering() async throws {
        let test = try TestGatehouse()
        for index in 0..<4 { _ = try await test.apiLogin("u\(index)@example.com") }
        test.clock.advance(by: 86_400)
        let archives = test.directory.path("archives")
        let record = try #require(try await test.gatehouse.audit.archive(before: test.clock.now(), to: archives, checkpoint: nil, by: Self.oncall))
        let path = archives + "/" + record.file

        // Rewritten (same rows, recompressed differently): the recorded SHA-256 no longer matches.
        var lines: [String] = []
        try GzipFile.readLines(path) { lines.append(String($0)) }
        try GzipFile.write(to: path + ".new") { write in try write(Data((lines.dropLast().joined(separator: "\n") + "\n").utf8)) }
        try FileManager.default.removeItem(atPath: path)
        try FileManager.default.moveItem(atPath: path + ".new", toPath: path)
        let changed = try await test.gatehouse.audit.verify(archivesIn: archives)
        #expect(!changed.isIntact && changed.problem?.contains("was changed") == true, "\(changed)")

        try FileManager.default.removeItem(atPath: path)
        let missing = try await test.gatehouse.audit.verify(archivesIn: archives)
        #expect(missing.problem?.contains("is missing") == true, "\(missing)")
    }

    @Test("an archive record written by hand (to delete rows) is named by the checkpoints; archive records are append-only")
    func forgedRecord() async throws {
        let test = try TestGatehouse()
        for index in 0..<4 { _ = try await test.apiLogin("f\(index)@example.com") }
        let key = try CheckpointKey.create(path: test.directory.path("audit.key"))
        let checkpoints = CheckpointFile(directory: test.directory.path("checkpoints"))
        _ = try await test.gatehouse.audit.checkpoint(key: key, file: checkpoints, by: Self.oncall)
        let head = try #require(try await test.gatehouse.audit.tail(limit: 1).last)
        // The intruder claims every row archived, then deletes them: no trigger needs dropping.
        let zeros = TestEngine.isSQLite ? "zeroblob(32)" : "'\\x" + String(repeating: "00", count: 32) + "'::bytea"
        try test.rawWrite("""
            INSERT INTO audit_archives (first_seq, last_seq, last_hash, file, sha256, row_count, created_at)
            VALUES (1, \(head.seq), \(zeros), 'nothing.jsonl.gz', \(zeros), \(head.seq), 0)
            """)
        try test.rawWrite("DELETE FROM audit_events")
        let report = try await test.gatehouse.audit.verify(checkpoints: try checkpoints.read(), publicKey: key.publicKey)
        #expect(report.problems.contains { $0.contains("no signed checkpoint at its cut") }, "\(report.problems)")
        #expect(throws: (any Error).self) { try test.rawWrite("DELETE FROM audit_archives") }
        #expect(throws: (any Error).self) { try test.rawWrite("UPDATE audit_archives SET last_seq = 1") }
    }
}
