import Foundation
import GatehouseTestSupport
import GRDB
import Testing
@testable import GatehouseCore

/// The `gatehouse` executable as a script would use it: real process, real file, exit codes.
@Suite("CLI")
struct CLITests {
    private func gatehouse(_ arguments: String..., db: String) async throws -> Subprocess.Result {
        try await GatehouseBinary.run(Array(arguments) + ["--db", db])
    }

    private func json(_ result: Subprocess.Result) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any], "\(result.stdout)")
    }

    @Test("init creates a 0600 database; other commands refuse a missing file with exit 1", .sqliteOnly)
    func initAndMissing() async throws {
        let directory = try TemporaryDirectory()
        let path = try directory.database("cli")
        let missing = try await gatehouse("sessions", "list", db: path)
        #expect(missing.status == 1 && missing.stderr.contains("gatehouse init"))
        #expect(!FileManager.default.fileExists(atPath: path))
        let created = try await gatehouse("init", db: path)
        #expect(created.status == 0 && created.stdout.contains("created"))
        let mode = try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? NSNumber
        #expect(mode?.uint16Value == 0o600)
        let again = try await GatehouseBinary.run(["init"], environment: ["GATEHOUSE_DB": path])
        #expect(again.status == 0 && again.stdout.contains("opened"))
    }

    @Test("usage errors exit 2, not 64")
    func usage() async throws {
        let directory = try TemporaryDirectory()
        #expect(try await gatehouse("sessions", "list", "--bogus", db: directory.path("x")).status == 2)
        #expect(try await gatehouse("tokens", "revoke", db: directory.path("x")).status == 2)
        #expect(try await gatehouse("tokens", "revoke", "--family", "a", "--session", "b", db: directory.path("x")).status == 2)
        #expect(try await GatehouseBinary.run(["--help"]).status == 0)
    }

    @Test("a non-SQLite file is refused with a sentence and exit 1")
    func notSQLite() async throws {
        let directory = try TemporaryDirectory()
        let path = directory.path("junk")
        try Data(String(repeating: "junk", count: 1000).utf8).write(to: URL(fileURLWithPath: path))
        let result = try await gatehouse("sessions", "list", db: path)
        #expect(result.status == 1 && result.stderr.contains("not an SQLite database"))
    }

    @Test("sessions list/show/revoke with --json, confirmation and the audit trail")
    func sessions() async throws {
        let test = try TestGatehouse()
        let (login, _) = try await test.apiLogin("heidi@example.com")
        _ = try await test.apiLogin("ivan@example.com")

        let listed = try json(await gatehouse("sessions", "list", "--json", db: test.path))
        let sessions = try #require(listed["sessions"] as? [[String: Any]])
        #expect(sessions.count == 2)
        #expect(Set(sessions.compactMap { $0["user"] as? String }) == ["heidi@example.com", "ivan@example.com"])
        #expect(sessions.allSatisfy { $0["state"] as? String == "active" && $0["refresh_tokens"] as? Int == 1 })

        let human = try await gatehouse("sessions", "list", "--user", "heidi@example.com", db: test.path)
        #expect(human.status == 0 && human.stdout.contains(login.session.handle) && !human.stdout.contains("ivan"))

        // Without a terminal and without --yes, a destructive command refuses and changes nothing.
        let refused = try await gatehouse("sessions", "revoke", login.session.handle, db: test.path)
        #expect(refused.status == 2 && refused.stderr.contains("--yes"))
        #expect(try await test.gatehouse.sessions.summary(handle: login.session.handle)?.session.state == .active)

        let revoked = try await GatehouseBinary.run(["sessions", "revoke", login.session.handle, "--yes", "--db", test.path],
                                              environment: ["SSH_CONNECTION": "203.0.113.9 50000 10.0.0.1 22"])
        #expect(revoked.status == 0, "\(revoked.stderr)")
        #expect(try await test.gatehouse.sessions.summary(handle: login.session.handle)?.session.state == .revoked)
        let event = try #require(try await test.gatehouse.audit.tail(limit: 5).last)
        #expect(event.action == "session.revoked" && event.actorType == "operator" && event.ip == "203.0.113.9")

        let shown = try json(await gatehouse("sessions", "show", login.session.handle, "--json", db: test.path))
        #expect((shown["session"] as? [String: Any])?["state"] as? String == "revoked")
        #expect((shown["audit"] as? [[String: Any]])?.map { $0["action"] as? String }.contains("session.revoked") == true)

        let unknown = try await gatehouse("sessions", "show", "ses_nope", db: test.path)
        #expect(unknown.status == 1 && unknown.stderr.contains("not found"))
    }

    @Test("tokens list/revoke by fingerprint, family and user; never printing a secret")
    func tokens() async throws {
        let test = try TestGatehouse()
        let (login, pair) = try await test.apiLogin("judy@example.com")
        let listed = try await gatehouse("tokens", "list", "--json", db: test.path)
        #expect(!listed.stdout.contains(pair.refreshToken.value))
        let tokens = try #require(try json(listed)["refresh_tokens"] as? [[String: Any]])
        let fingerprint = try #require(tokens.first?["fingerprint"] as? String)
        #expect(fingerprint == pair.refreshToken.hash.fingerprint)

        let byToken = try await gatehouse("tokens", "revoke", "--token", fingerprint, "--yes", db: test.path)
        #expect(byToken.status == 0 && byToken.stdout.contains("revoked"), "\(byToken.stderr)")
        #expect(await failure { try await test.gatehouse.refreshTokens.refresh(pair.refreshToken.value) } == .revoked)

        let (second, _) = try await test.apiLogin("judy@example.com")
        let byFamily = try await gatehouse("tokens", "revoke", "--family", second.session.refreshFamily!, "--yes", db: test.path)
        #expect(byFamily.status == 0 && byFamily.stdout.contains("revoked 1 token"))

        let byUser = try await gatehouse("tokens", "revoke", "--user", "judy@example.com", "--yes", "--json", db: test.path)
        #expect(byUser.status == 0 && byUser.stdout.contains("revoked 2 session"))
        #expect(try await test.gatehouse.sessions.summary(handle: login.session.handle)?.session.state == .revoked)
    }

    @Test("limits list and reset")
    func limits() async throws {
        let test = try TestGatehouse()
        let policy = RateLimitPolicy(name: "refresh", limit: 2, period: 60)
        for _ in 0..<4 { _ = try await test.gatehouse.rateLimits.check(policy, key: "192.0.2.1") }
        let listed = try json(await gatehouse("limits", "list", "--json", db: test.path))
        let bucket = try #require((listed["buckets"] as? [[String: Any]])?.first)
        #expect(bucket["key"] as? String == "refresh:192.0.2.1" && bucket["blocked_total"] as? Int == 2)
        let reset = try await gatehouse("limits", "reset", "refresh:192.0.2.1", "--yes", db: test.path)
        #expect(reset.status == 0)
        #expect(try await gatehouse("limits", "reset", "refresh:absent", "--yes", db: test.path).status == 1)
    }

    @Test("a write blocked by another process's lock fails after 5 s naming that process's pid", .sqliteOnly)
    func lockedNamesPid() async throws {
        let test = try TestGatehouse()
        let (login, _) = try await test.apiLogin()
        let holder = try DatabaseQueue(path: test.path)
        try await holder.writeWithoutTransaction { db in
            try db.execute(sql: "BEGIN IMMEDIATE")
            // Inside the lock holder's closure (GRDB's thread, not the cooperative pool): wait in place.
            let result = try GatehouseBinary.start(["sessions", "revoke", login.session.handle, "--yes", "--db", test.path]).wait()
            // What the kernel listed while the lock was still held, for the failure message.
            let locks = ProcFile.text("/proc/locks") ?? ""
            try db.execute(sql: "ROLLBACK")
            #expect(result.status == 1)
            #expect(result.stderr.contains("locked by pid \(getpid())"), "\(result.stderr)\n/proc/locks:\n\(locks)")
        }
        #expect(try await test.gatehouse.sessions.summary(handle: login.session.handle)?.session.state == .active)
    }

    @Test("/proc/locks is read to its end (String(contentsOfFile: stops at 4 KiB): the holder is named on a busy machine", .sqliteOnly)
    func lockHolderPastFirstPage() async throws {
        let test = try TestGatehouse()
        let (login, _) = try await test.apiLogin()
        // Many open WAL databases first: each holds a lock on its -shm file, listed before the holder's.
        var others: [DatabaseQueue] = []
        for index in 0..<150 {
            let other = try DatabaseQueue(path: test.directory.path("other-\(index).sqlite"))
            try await other.writeWithoutTransaction { db in
                try db.execute(sql: "PRAGMA journal_mode=WAL")
                try db.execute(sql: "CREATE TABLE IF NOT EXISTS t (x)")
            }
            others.append(other)
        }
        let holder = try DatabaseQueue(path: test.path)
        try await holder.writeWithoutTransaction { db in
            try db.execute(sql: "BEGIN IMMEDIATE")
            // Where the holder's line falls depends on the CPU that took the lock (the kernel keeps a
            // list per CPU), so the read itself is checked: every lock this process holds is in it.
            // /proc/locks is not a snapshot: while other tests take and drop locks a read may skip a line,
            // so one of a few reads must hold them all (a read cut at 4 KiB never does).
            func missing(_ locks: String) -> [Int] {
                let listed = Set(locks.split(separator: "\n").compactMap { $0.split(separator: " ").dropFirst(5).first?.split(separator: ":").last })
                return (0..<150).filter { index in
                    var info = stat()
                    return stat(test.directory.path("other-\(index).sqlite-shm"), &info) != 0 || !listed.contains(Substring(String(info.st_ino)))
                }
            }
            let reads = (0..<5).map { _ in ProcFile.text("/proc/locks") ?? "" }
            #expect(reads[0].utf8.count > 4096, "the table must be long for the test to mean anything")
            #expect(reads.contains { missing($0).isEmpty }, "no read held all of this process's 150 locks: \(reads.map { missing($0).count })")
            // Inside the lock holder's closure (GRDB's thread, not the cooperative pool): wait in place.
            let result = try GatehouseBinary.start(["sessions", "revoke", login.session.handle, "--yes", "--db", test.path]).wait()
            try db.execute(sql: "ROLLBACK")
            #expect(result.status == 1 && result.stderr.contains("locked by pid \(getpid())"), "\(result.stderr)")
        }
        for other in others { try other.close() }
    }

    @Test("audit tail and verify; verify exits 1 naming the tampered row", .sqliteOnly)
    func audit() async throws {
        let test = try TestGatehouse()
        _ = try await test.apiLogin()
        let tail = try json(await gatehouse("audit", "tail", "--json", "--limit", "3", db: test.path))
        #expect((tail["events"] as? [[String: Any]])?.count == 3)
        let ok = try await gatehouse("audit", "verify", db: test.path)
        #expect(ok.status == 0 && ok.stdout.contains("intact"))
        try test.rawWrite("DROP TRIGGER audit_events_no_update; UPDATE audit_events SET reason = 'x' WHERE seq = 2;")
        let broken = try await gatehouse("audit", "verify", db: test.path)
        #expect(broken.status == 1 && broken.stderr.contains("seq 2"))
    }

    @Test("audit tail --follow prints events committed by another process")
    func follow() async throws {
        let test = try TestGatehouse()
        let (first, _) = try await test.apiLogin("jo@example.com")
        let started = try GatehouseBinary.start(["audit", "tail", "--follow", "--interval", "0.1", "--db", test.path])
        defer { started.terminate(); _ = started.wait() }
        // States, not times: the first tail is printed (it is following), then the new event arrives.
        func printed(_ text: String) async throws -> Bool {
            let deadline = ContinuousClock.now + .seconds(60)
            while !started.outputSoFar().contains(text), ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(20)) }
            return started.outputSoFar().contains(text)
        }
        #expect(try await printed(first.session.handle))
        let (login, _) = try await test.apiLogin("kim@example.com")
        #expect(try await printed(login.session.handle), "\(started.outputSoFar())")
    }

    @Test("jobs: start prints the id (JSON too), show and list read it, cancel and retry act; mistakes exit 1 or 2")
    func jobs() async throws {
        let directory = try TemporaryDirectory()
        let path = try directory.database("jobs")
        #expect(try await gatehouse("init", db: path).status == 0)
        let started = try await gatehouse("jobs", "start", "audit-report", "--from", "2026-01-01", "--to", "2026-02-01", db: path)
        #expect(started.status == 0 && started.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "1")
        let json = try json(try await gatehouse("jobs", "start", "user-export", "--user", "a@example.com", "--json", db: path))
        #expect(json["id"] as? Int == 2)
        let show = try await gatehouse("jobs", "show", "1", "--json", db: path)
        #expect(show.status == 0 && show.stdout.contains("\"state\" : \"queued\""))
        #expect(try await gatehouse("jobs", "list", db: path).stdout.contains("audit-report"))
        let cancel = try await gatehouse("jobs", "cancel", "1", db: path)
        #expect(cancel.status == 0 && cancel.stdout.contains("cancelled"))
        #expect(try await gatehouse("jobs", "retry", "1", db: path).status == 0)
        #expect(try await gatehouse("jobs", "retry", "1", db: path).status == 1) // queued again: nothing to retry
        #expect(try await gatehouse("jobs", "show", "99", db: path).status == 1)
        #expect(try await gatehouse("jobs", "start", "nope", db: path).status == 2)
        #expect(try await gatehouse("jobs", "start", "audit-report", "--from", "tomorrow", "--to", "2026-01-01", db: path).status == 2)
        let worked = try await gatehouse("worker", "--until-idle", db: path)
        #expect(worked.status == 0)
        let done = try await gatehouse("jobs", "show", "1", db: path)
        #expect(done.stdout.contains("succeeded") && done.stdout.contains("audit-report-1.csv"))
    }
}
