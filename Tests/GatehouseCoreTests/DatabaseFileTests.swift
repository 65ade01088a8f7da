import Foundation
import GatehouseCore
import GatehouseTestSupport
import GRDB
import Testing

/// Field reports II, the database file: empty, half-created, corrupt, too open, in a read-only
/// folder, locked. Real files and real `gatehouse` processes.
@Suite("The database file under fault", .sqliteOnly)
struct DatabaseFileTests {
    static func size(_ path: String) -> Int? {
        (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? NSNumber)?.intValue
    }

    static func mode(_ path: String) -> UInt16? {
        (try? FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? NSNumber)?.uint16Value
    }

    @Test("a 0-byte file: every command but init says 'run init' and leaves it empty (sessions revoke --user a@example.com --yes)")
    func emptyFile() async throws {
        let directory = try TemporaryDirectory()
        let db = directory.path("empty.sqlite")
        FileManager.default.createFile(atPath: db, contents: nil)
        for arguments in [["sessions", "revoke", "--user", "a@example.com", "--yes"], ["sessions", "list"], ["audit", "verify"],
                          ["limits", "reset", "refresh:x", "--yes"], ["worker", "--until-idle"]] {
            let result = try await GatehouseBinary.run(arguments + ["--db", db])
            #expect(result.status == 1, "\(arguments): \(result.stdout)")
            #expect(result.stderr.contains("is empty") && result.stderr.contains("gatehouse init --db"), "\(arguments): \(result.stderr)")
            #expect(Self.size(db) == 0, "\(arguments) wrote into the empty file")
        }
        #expect(try await GatehouseBinary.run(["init", "--db", db]).status == 0)
        #expect(try await GatehouseBinary.run(["sessions", "list", "--db", db]).status == 0)
    }

    @Test("init that fails half-way (the file may not grow: a full disk's EFBIG) leaves no file behind")
    func failedInitLeavesNothing() throws {
        let directory = try TemporaryDirectory()
        let db = directory.path("full.sqlite")
        // 8 KiB is less than the schema: the write fails as it would on a full disk.
        let result = try Subprocess.run("/bin/bash", ["-c", #"trap "" XFSZ; ulimit -f 8; exec "$0" "$@""#,
                                                      GatehouseBinary.url.path, "init", "--db", db])
        #expect(result.status == 1, "\(result.stdout)")
        #expect(result.stderr.contains("writing failed") || result.stderr.contains("disk is full"), "\(result.stderr)")
        for path in [db, db + "-wal", db + "-shm"] {
            #expect(!FileManager.default.fileExists(atPath: path), "\(path) was left behind")
        }
    }

    @Test("a folder that does not exist is named as such, not as read-only")
    func missingFolder() async throws {
        let result = try await GatehouseBinary.run(["init", "--db", "/nonexistent-gatehouse-folder/x.sqlite"])
        #expect(result.status == 1)
        #expect(result.stderr.contains("the folder /nonexistent-gatehouse-folder does not exist"), "\(result.stderr)")
    }

    @Test("a CLI command does not upgrade an older schema: it says 'run init' and changes nothing")
    func noSilentUpgrade() async throws {
        let directory = try TemporaryDirectory()
        let db = directory.path("old.sqlite")
        #expect(try await GatehouseBinary.run(["init", "--db", db]).status == 0)
        // As if written before the newest migration.
        let queue = try DatabaseQueue(path: db)
        let newest = try await queue.write { db -> String in
            let newest = try String.fetchOne(db, sql: "SELECT identifier FROM grdb_migrations ORDER BY rowid DESC LIMIT 1")!
            try db.execute(sql: "DELETE FROM grdb_migrations WHERE identifier = ?", arguments: [newest])
            return newest
        }
        try queue.close()
        for arguments in [["sessions", "list"], ["sessions", "revoke", "--user", "a@example.com", "--yes"]] {
            let result = try await GatehouseBinary.run(arguments + ["--db", db])
            #expect(result.status == 1, "\(arguments)")
            #expect(result.stderr.contains("needs a schema upgrade") && result.stderr.contains("gatehouse init"), "\(result.stderr)")
        }
        let applied = try await DatabaseQueue(path: db).read { db in try String.fetchAll(db, sql: "SELECT identifier FROM grdb_migrations") }
        #expect(!applied.contains(newest))
    }

    @Test("init and serve make an existing 0644 file (and its -wal/-shm) 0600, and say so")
    func permissionsTightened() async throws {
        let directory = try TemporaryDirectory()
        let db = directory.path("open.sqlite")
        #expect(try await GatehouseBinary.run(["init", "--db", db]).status == 0)
        _ = try await GatehouseBinary.run(["debug", "login-churn", "--db", db, "--count", "1"])
        for path in [db, db + "-wal", db + "-shm"] where FileManager.default.fileExists(atPath: path) {
            chmod(path, 0o644)
        }
        let result = try await GatehouseBinary.run(["init", "--db", db])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("644 → 600"), "\(result.stdout)")
        for path in [db, db + "-wal", db + "-shm"] where FileManager.default.fileExists(atPath: path) {
            #expect(Self.mode(path) == 0o600, "\(path)")
        }
    }

    @Test("a file with a corrupt page: the CLI says so and how to recover; no command writes into it")
    func corruptFileCLI() async throws {
        let directory = try TemporaryDirectory()
        let db = directory.path("corrupt.sqlite")
        #expect(try await GatehouseBinary.run(["init", "--db", db]).status == 0)
        _ = try await GatehouseBinary.run(["debug", "login-churn", "--db", db, "--count", "3", "--email", "a@example.com"])
        try DamagedFile.corruptRootPage(of: "sessions", in: db)
        for arguments in [["sessions", "list"], ["sessions", "revoke", "--user", "a@example.com", "--yes"]] {
            let result = try await GatehouseBinary.run(arguments + ["--db", db])
            #expect(result.status == 1, "\(arguments)")
            #expect(result.stderr.contains("is corrupt") && result.stderr.contains(".recover"), "\(arguments): \(result.stderr)")
        }
    }

    @Test("in a read-only folder read commands work (immutable open) and writes say the folder is read-only")
    func readOnlyDirectory() async throws {
        let directory = try TemporaryDirectory()
        let folder = directory.path("ro")
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: false)
        let db = folder + "/db.sqlite"
        #expect(try await GatehouseBinary.run(["init", "--db", db]).status == 0)
        _ = try await GatehouseBinary.run(["debug", "login-churn", "--db", db, "--count", "2", "--email", "a@example.com"])
        // Everything into the main file, then no -wal and -shm: nothing can be created beside it.
        let queue = try DatabaseQueue(path: db)
        _ = try await queue.writeWithoutTransaction { try $0.checkpoint(.truncate) }
        try queue.close()
        for path in [db + "-wal", db + "-shm"] { try? FileManager.default.removeItem(atPath: path) }
        // root ignores folder permissions: run as nobody then, owning the files.
        let asRoot = geteuid() == 0
        if asRoot {
            for path in [folder, db] { _ = try await Subprocess.run("/bin/chown", ["nobody", path]) }
            chmod(directory.url.path, 0o755)
        }
        chmod(folder, 0o555)
        defer { chmod(folder, 0o755) }
        func run(_ arguments: [String]) async throws -> Subprocess.Result {
            asRoot ? try await Subprocess.run("/usr/sbin/runuser", ["-u", "nobody", "--", GatehouseBinary.url.path] + arguments)
                : try await GatehouseBinary.run(arguments)
        }
        let list = try await run(["sessions", "list", "--user", "a@example.com", "--db", db])
        #expect(list.status == 0, "\(list.stderr)")
        #expect(list.stdout.components(separatedBy: "a@example.com").count - 1 == 2, "\(list.stdout)")
        #expect(try await run(["audit", "verify", "--db", db]).status == 0)
        let revoke = try await run(["sessions", "revoke", "--user", "a@example.com", "--yes", "--db", db])
        #expect(revoke.status == 1)
        #expect(revoke.stderr.contains("is read-only") && revoke.stderr.contains("-wal"), "\(revoke.stderr)")
    }
}
