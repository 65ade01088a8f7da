import Foundation
import GatehouseTestSupport
import Testing
@testable import GatehouseCore

@Suite("Signed audit checkpoints")
struct CheckpointTests {
    static let oncall = Actor.operator(OperatorIdentity(name: "oncall", sshClient: nil, via: "cli"))

    /// A log with some rows, a checkpoint key, and a folder of checkpoints.
    struct Fixture {
        let test: TestGatehouse
        let key: CheckpointKey
        let file: CheckpointFile

        init() async throws {
            test = try TestGatehouse()
            for index in 0..<5 { _ = try await test.apiLogin("user\(index)@example.com") }
            key = try CheckpointKey.create(path: test.directory.path("checkpoint.key"))
            file = CheckpointFile(directory: test.directory.path("checkpoints"))
        }

        func checkpoint() async throws -> SignedCheckpoint {
            try await test.gatehouse.audit.checkpoint(key: key, file: file, by: CheckpointTests.oncall)
        }

        func report() async throws -> CheckpointReport {
            try await test.gatehouse.audit.verify(checkpoints: try file.read(), publicKey: try CheckpointPublicKey.load(path: test.directory.path("checkpoint.key.pub")))
        }

        /// What an intruder with the database does first: the append-only guards go.
        func dropGuards() throws {
            try test.rawWrite(TestEngine.isSQLite ? "DROP TRIGGER audit_events_no_update; DROP TRIGGER audit_events_no_delete;"
                                                  : "DROP TRIGGER audit_events_append_only ON audit_events")
        }

        func blob(_ data: Data) -> String {
            TestEngine.isSQLite ? "X'\(Fingerprint.hex(data))'" : "'\\x\(Fingerprint.hex(data))'::bytea"
        }
    }

    @Test("checkpoints sign the head, chain to each other, verify with the public key, and are recorded in the log")
    func intact() async throws {
        let fixture = try await Fixture()
        let first = try await fixture.checkpoint()
        _ = try await fixture.test.apiLogin("later@example.com")
        let second = try await fixture.checkpoint()
        #expect(second.seq > first.seq && second.previous == SignedCheckpoint.lineHash(first.line))
        let report = try await fixture.report()
        #expect(report.isIntact && report.checkpoints == 2 && report.newest == second, "\(report.problems)")
        let mode = try FileManager.default.attributesOfItem(atPath: fixture.test.directory.path("checkpoint.key"))[.posixPermissions] as? NSNumber
        #expect(mode?.uint16Value == 0o600)
        let newest = try await fixture.test.gatehouse.audit.newestCheckpoint()
        #expect(newest?.seq == second.seq)
        let event = try await fixture.test.gatehouse.audit.tail(limit: 1).last
        #expect(event?.action == "audit.checkpointed" && event?.actorId == "oncall")
    }

    @Test("the last 10 rows cut off after a checkpoint: named, to the row, though the chain that is left verifies")
    func cutTail() async throws {
        let fixture = try await Fixture()
        for index in 0..<3 { _ = try await fixture.test.apiLogin("more\(index)@example.com") }
        let checkpoint = try await fixture.checkpoint()
        try fixture.dropGuards()
        // The checkpoint's own row and the nine before it.
        try fixture.test.rawWrite("DELETE FROM audit_events WHERE seq > \(checkpoint.seq - 9)")
        let report = try await fixture.report()
        #expect(!report.isIntact)
        #expect(report.problems.contains { $0.contains("the tail was cut") && $0.contains("rows \(checkpoint.seq - 8)–\(checkpoint.seq) are gone") },
                "\(report.problems)")
    }

    @Test("a chain rebuilt with new hashes verifies on its own, and the checkpoints say it was rebuilt")
    func rebuiltChain() async throws {
        let fixture = try await Fixture()
        let checkpoint = try await fixture.checkpoint()
        try fixture.dropGuards()
        // Rewrite row 3 and rehash every row from it on: the chain alone cannot tell.
        var events = try await fixture.test.gatehouse.audit.tail(limit: 10_000)
        var previous = events[1].hash
        var statements: [String] = []
        for index in 2..<events.count {
            if index == 2 { events[index].actorId = "someone-else" }
            events[index].prevHash = previous
            events[index].hash = events[index].expectedHash(previous: previous)
            previous = events[index].hash
            statements.append("UPDATE audit_events SET actor_id = \(events[index].actorId.map { "'\($0)'" } ?? "NULL"), prev_hash = \(fixture.blob(events[index].prevHash)), hash = \(fixture.blob(events[index].hash)) WHERE seq = \(events[index].seq)")
        }
        try fixture.test.rawWrite(statements.joined(separator: ";\n"))
        #expect(try await fixture.test.gatehouse.audit.verify().isIntact)
        let report = try await fixture.report()
        #expect(report.problems.contains { $0.contains("the chain was rebuilt") && $0.contains("row \(checkpoint.seq)") }, "\(report.problems)")
    }

    @Test("a forged checkpoint, a removed one, and a key that is not the signer's are each named")
    func forgedAndRemoved() async throws {
        let fixture = try await Fixture()
        for _ in 0..<3 {
            _ = try await fixture.checkpoint()
            _ = try await fixture.test.apiLogin("x\(UUID().uuidString.prefix(6))@example.com")
        }
        var lines = try fixture.file.read()
        // The middle checkpoint removed: the third no longer follows the first.
        lines.remove(at: 1)
        let removed = try await fixture.test.gatehouse.audit.verify(checkpoints: lines, publicKey: fixture.key.publicKey)
        #expect(removed.problems.contains { $0.contains("does not follow") }, "\(removed.problems)")

        // A checkpoint whose head was edited: its signature fails.
        var forged = try fixture.file.read()
        var edited = try #require(forged[0].checkpoint)
        edited.seq += 1
        forged[0] = (forged[0].number, edited.line, edited)
        let report = try await fixture.test.gatehouse.audit.verify(checkpoints: forged, publicKey: fixture.key.publicKey)
        #expect(report.problems.contains { $0.contains("line 1") && $0.contains("signature does not verify") }, "\(report.problems)")

        let stranger = try CheckpointKey.create(path: fixture.test.directory.path("other.key"))
        let wrongKey = try await fixture.test.gatehouse.audit.verify(checkpoints: try fixture.file.read(), publicKey: stranger.publicKey)
        #expect(wrongKey.checkpoints == 0 && wrongKey.problems.count == 3)
    }

    @Test("keys: 0600 enforced, never replaced, the public half verifies")
    func keys() async throws {
        let directory = try TemporaryDirectory()
        let path = directory.path("k")
        let key = try CheckpointKey.create(path: path)
        #expect(throws: CheckpointError.self) { try CheckpointKey.create(path: path) }
        #expect(try CheckpointPublicKey.load(path: path + ".pub") == key.publicKey)
        #expect(try CheckpointPublicKey.load(path: path) == key.publicKey)
        chmod(path, 0o640)
        #expect(throws: CheckpointError.self) { try CheckpointKey.load(path: path) }
    }
}
