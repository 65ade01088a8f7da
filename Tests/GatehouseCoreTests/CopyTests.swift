import Foundation
import GatehouseTestSupport
import Testing
@testable import GatehouseCore

/// `gatehouse copy` between engines: the run's engine to the other one and back, as an
/// operator moving a deployment would (the CLI process), then row by row against the source.
@Suite("Copying a deployment between engines", .enabled(if: PostgresCluster.testsRun, "skipped: \(PostgresCluster.unavailableReason ?? "")"))
struct CopyTests {
    /// A fresh database of the engine this run does not test (a PostgreSQL one in the SQLite run).
    static func otherEngineDatabase(_ name: String, in directory: TemporaryDirectory) throws -> String {
        TestEngine.isSQLite ? try TestEngine.postgresDatabase(name) : directory.path(name + ".sqlite")
    }

    static func open(_ path: String) throws -> Gatehouse { try Gatehouse.open(path: path, options: TestEngine.options()) }

    /// Every row of every table in key order, values made engine-neutral (an integer and the
    /// same real compare equal), for equality across engines.
    static func rows(of gatehouse: Gatehouse, except skipped: Set<String> = []) throws -> [String: [[String]]] {
        try gatehouse.database.readSync { tx in
            var tables: [String: [[String]]] = [:]
            for table in DatabaseCopy.tables where !skipped.contains(table.name) {
                tables[table.name] = try tx.fetchAll("SELECT * FROM \(table.name) ORDER BY \"\(table.key)\"").map { row in
                    zip(row.columns.names, row.values).map { name, value in
                        switch value {
                        case .null: "\(name)=null"
                        case .int(let number): "\(name)=\(Double(number))"
                        case .double(let number): "\(name)=\(number)"
                        case .text(let text): "\(name)=\(text)"
                        case .blob(let data): "\(name)=\(data.base64EncodedString())"
                        }
                    }.sorted()
                }
            }
            return tables
        }
    }

    @Test("the run's engine → the other → back: every table row for row, the chain verified with the same head, the keys and tokens still good")
    func roundTrip() async throws {
        let source = try TestGatehouse(realTime: true)
        let (_, pair) = try await source.apiLogin("alice@example.com")
        _ = try await source.webLogin("bob@example.com")
        _ = try await source.gatehouse.payments.receive(payload: Data(#"{"id":"evt_1","type":"checkout.session.completed","data":{"object":{"amount_total":500,"currency":"usd","metadata":{"gatehouse_user":"alice@example.com"}}}}"#.utf8))
        _ = try await source.gatehouse.jobs.enqueue(JobRequest(kind: DocumentKinds.userExport, arguments: ["user": "alice@example.com"]),
                                                    by: .system)
        // More audit rows than one page of the copy, so that paging is exercised.
        try await offPool { try SyntheticData.seed(.init(users: 30, sessions: 3_000, auditEvents: 5_000), into: source.gatehouse.database) }
        let kid = try await source.gatehouse.accessTokens.keyID()

        let other = try Self.otherEngineDatabase("copy_other", in: source.directory)
        let there = try await GatehouseBinary.run(["copy", "--from", source.path, "--to", other])
        #expect(there.status == 0, "\(there.stderr)")
        #expect(there.stdout.contains("audit chain verified on the target") && there.stdout.contains("a consistent snapshot"), "\(there.stdout)")
        let back = try source.directory.database("copy_back")
        let again = try await GatehouseBinary.run(["copy", "--from", other, "--to", back, "--json"])
        #expect(again.status == 0, "\(again.stderr)")

        let moved = try Self.open(other), returned = try Self.open(back)
        for copy in [moved, returned] {
            #expect(try await copy.audit.verify().isIntact)
            #expect(try await copy.accessTokens.keyID() == kid)
        }
        // Every table equal to the source's, the audit log apart from the events recording the copies.
        let original = try Self.rows(of: source.gatehouse)
        let roundTripped = try Self.rows(of: returned)
        for table in DatabaseCopy.tables.map(\.name) where table != "audit_events" {
            #expect(original[table] == roundTripped[table], "table \(table) differs after the round trip")
        }
        let events = try Self.rows(of: returned)["audit_events"] ?? []
        #expect(Array(events.prefix(original["audit_events"]?.count ?? 0)) == original["audit_events"])
        let copies = try await returned.audit.tail(limit: 2)
        #expect(copies.map(\.action) == ["database.copied_in", "database.copied_in"])
        #expect(copies.allSatisfy { $0.actorType == "operator" }, "\(copies.map(\.actorType))")

        // The copy works as the deployment: a refresh token issued by the source rotates on it,
        // and new rows get ids after the copied ones.
        let rotated = try await moved.refreshTokens.refresh(pair.refreshToken.value)
        #expect(!rotated.refreshToken.value.isEmpty)
        let link = try await moved.magicLinks.requestMagicLink(email: "carol@example.com")
        _ = try await moved.magicLinks.verifyMagicLink(token: link.token.value)
        #expect(try await moved.audit.verify().isIntact)
    }

    @Test("a target that holds data is refused (exit 1, unchanged) unless --force; an initialised, unused one is taken; one database for both is a usage error")
    func refusals() async throws {
        let source = try TestGatehouse(realTime: true)
        _ = try await source.apiLogin("alice@example.com")
        let occupied = try TestGatehouse(realTime: true)
        _ = try await occupied.apiLogin("zed@example.com")
        let before = try Self.rows(of: occupied.gatehouse)

        let refused = try await GatehouseBinary.run(["copy", "--from", source.path, "--to", occupied.path])
        #expect(refused.status == 1)
        #expect(refused.stderr.contains("already holds data") && refused.stderr.contains("1 users") && refused.stderr.contains("--force"), "\(refused.stderr)")
        #expect(try Self.rows(of: occupied.gatehouse) == before)

        let forced = try await GatehouseBinary.run(["copy", "--from", source.path, "--to", occupied.path, "--force"])
        #expect(forced.status == 0, "\(forced.stderr)")
        #expect(forced.stdout.contains("replaced what the target held"), "\(forced.stdout)")
        let after = try Self.open(occupied.path)
        #expect(try await after.sessions.list().map(\.email) == ["alice@example.com"])
        #expect(try await after.audit.verify().isIntact)

        let initialised = try source.directory.database("initialised")
        #expect(try await GatehouseBinary.run(["init", "--db", initialised]).status == 0)
        let taken = try await GatehouseBinary.run(["copy", "--from", source.path, "--to", initialised])
        #expect(taken.status == 0, "\(taken.stderr)")

        let same = try await GatehouseBinary.run(["copy", "--from", source.path, "--to", source.path])
        #expect(same.status == 2 && same.stderr.contains("same database"), "\(same.stderr)")
    }

    @Test("a source whose audit chain was altered is not copied: the break is named, the target left empty")
    func brokenChain() async throws {
        let source = try TestGatehouse(realTime: true)
        for name in ["a", "b", "c"] { _ = try await source.apiLogin("\(name)@example.com") }
        let trigger = TestEngine.isSQLite ? "DROP TRIGGER audit_events_no_update" : "ALTER TABLE audit_events DISABLE TRIGGER audit_events_append_only"
        try source.rawWrite("\(trigger); UPDATE audit_events SET action = 'nothing.happened' WHERE seq = 5")
        let target = try Self.otherEngineDatabase("broken_target", in: source.directory)
        let copy = try await GatehouseBinary.run(["copy", "--from", source.path, "--to", target])
        #expect(copy.status == 1)
        #expect(copy.stderr.contains("does not verify at #5"), "\(copy.stderr)")
        #expect(try await Self.open(target).sessions.count() == 0)
    }

    @Test("written to during the copy: the copy is the snapshot from its start, and the report says the source moved on")
    func writtenMeanwhile() async throws {
        let source = try TestGatehouse(realTime: true)
        _ = try await source.apiLogin("early@example.com")
        try await offPool { try SyntheticData.seed(.init(users: 1, sessions: 0, auditEvents: 5_000), into: source.gatehouse.database) }
        let before = try await source.gatehouse.sessions.count()
        let writer = try Self.open(source.path)
        let target = try Self.otherEngineDatabase("meanwhile", in: source.directory)
        let from = try GatehouseDatabase.open(path: source.path, options: TestEngine.options(readOnly: true))
        let to = try GatehouseDatabase.open(path: target, options: TestEngine.options(createIfMissing: true))
        let report = try await offPool { () throws -> DatabaseCopy.Report in
            var wrote = false
            return try DatabaseCopy.run(from: from, to: to, replacing: false, by: .system) { _ in
                // A server's commit while the copy reads: after its snapshot began.
                guard !wrote else { return }
                wrote = true
                try? writer.database.writeSync { tx in
                    try AuditLog.appendNow(AuditEntry(actor: .system, action: "test.meanwhile"), in: tx, at: Date())
                }
            }
        }
        let head = try #require(report.auditHead)
        #expect(report.sourceMoved?.from == head.seq && report.sourceMoved?.to == head.seq + 1)
        let copied = try Self.open(target)
        #expect(try await copied.audit.tail(limit: 5_000).allSatisfy { $0.action != "test.meanwhile" })
        #expect(try await copied.sessions.count() == before)
        #expect(try await copied.audit.verify().isIntact)
    }
}
