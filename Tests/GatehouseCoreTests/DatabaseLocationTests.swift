import Foundation
import GatehouseCore
import GatehouseTestSupport
import Testing

/// `--db` takes a file path or a PostgreSQL URL read with libpq's conventions; the password
/// never appears in anything printed.
@Suite("Database locations (--db)")
struct DatabaseLocationTests {
    @Test("paths are SQLite files; postgres:// and postgresql:// URLs are PostgreSQL, with libpq's parts and defaults")
    func parsing() throws {
        #expect(try DatabaseLocation("/tmp/g.sqlite") == .sqlite(path: "/tmp/g.sqlite"))
        #expect(try DatabaseLocation("gatehouse.sqlite") == .sqlite(path: "gatehouse.sqlite"))

        guard case .postgres(let full) = try DatabaseLocation("postgresql://app:s%40cret@db.example.com:6543/gate?sslmode=require",
                                                              environment: [:]) else { Issue.record("not PostgreSQL"); return }
        #expect(full.host == "db.example.com" && full.port == 6543 && full.user == "app" && full.database == "gate")
        #expect(full.password == "s@cret" && full.sslMode == .require && !full.isUnixSocket)

        let environment = ["PGHOST": "/run/pg", "PGPORT": "5433", "PGUSER": "ops", "PGPASSWORD": "from-env", "PGDATABASE": "gh"]
        guard case .postgres(let defaults) = try DatabaseLocation("postgres://", environment: environment) else { return }
        #expect(defaults.host == "/run/pg" && defaults.port == 5433 && defaults.user == "ops" && defaults.database == "gh")
        #expect(defaults.password == "from-env" && defaults.isUnixSocket && defaults.unixSocketPath == "/run/pg/.s.PGSQL.5433")
        #expect(defaults.sslMode == .prefer)

        guard case .postgres(let socket) = try DatabaseLocation("postgresql:///gate?host=%2Ftmp%2Fpg&user=me", environment: [:]) else { return }
        #expect(socket.host == "/tmp/pg" && socket.database == "gate" && socket.user == "me" && socket.port == 5432)
        guard case .postgres(let v6) = try DatabaseLocation("postgresql://u@[2001:db8::1]:5439/d", environment: [:]) else { return }
        #expect(v6.host == "2001:db8::1" && v6.port == 5439)
    }

    @Test("the password never appears in what is printed, nor in a parse error")
    func neverPrinted() throws {
        let location = try DatabaseLocation("postgresql://app:hunter2@db.example.com/gate", environment: [:])
        #expect(location.description == "postgresql://app@db.example.com:5432/gate?sslmode=prefer")
        for bad in ["postgresql://app:hunter2@db/gate?sslmode=maybe", "postgresql://app:hunter2@db:99999/gate",
                    "postgresql://app@db/gate?password=hunter2%zz", "postgresql://app:hunter2@db/gate?frobnicate=1",
                    "postgresql://app:hunter2@a,b/gate"] {
            #expect(throws: DatabaseLocationError.self) { try DatabaseLocation(bad, environment: [:]) }
            do { _ = try DatabaseLocation(bad, environment: [:]) } catch {
                #expect(!error.description.contains("hunter2"), "\(error)")
            }
        }
    }

    @Test("a password's unescaped '/', '?' or '&' never reaches a message; other URL schemes and libpq keyword strings are refused, not made files")
    func passwordFragments() throws {
        // Each password below breaks the URL apart; no piece of it may be quoted back.
        for (bad, secret) in [("postgresql://app:Xy7/kq@db/gh", "Xy7"), ("postgresql://app:ab?cdsecret=ef@db/gh", "cdsecret"),
                              ("postgresql://app@db/gh?mysecretvalue", "mysecretvalue"), ("postgresql://app:pw&zz=1@db/gh", "zz")] {
            do {
                _ = try DatabaseLocation(bad, environment: [:])
            } catch {
                #expect(!error.description.contains(secret), "\(error)")
            }
        }
        for other in ["jdbc:postgresql://h/db?user=u&password=hunter2", "mysql://u:hunter2@h/db", "host=db password=hunter2 dbname=gh"] {
            #expect(throws: DatabaseLocationError.self) { try DatabaseLocation(other, environment: [:]) }
            do { _ = try DatabaseLocation(other, environment: [:]) } catch {
                #expect(!error.description.contains("hunter2"), "\(error)")
            }
        }
        let directory = try TemporaryDirectory()
        let result = try Subprocess.run("/bin/sh", ["-c", #"cd "$0" && exec "$@""#, directory.url.path, GatehouseBinary.url.path,
                                                   "init", "--db", "host=db password=hunter2 dbname=gh"])
        #expect(result.status != 0 && !(result.stdout + result.stderr).contains("hunter2"), "\(result.stderr)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory.url.path).isEmpty)
    }

    @Test("every command answers a PostgreSQL URL with a sentence (no file named postgres: appears), without the password")
    func commandsAnswerUnreachableServers() throws {
        let directory = try TemporaryDirectory()
        let url = "postgresql://app:hunter2@127.0.0.1:1/gate"
        for arguments in [["init"], ["sessions", "list"], ["serve", "--port", "0", "--dev"], ["audit", "verify"]] {
            // Run from an empty folder: a URL taken for a path would leave a file or folder there.
            let result = try Subprocess.run("/bin/sh", ["-c", #"cd "$0" && exec "$@""#, directory.url.path, GatehouseBinary.url.path]
                                             + arguments + ["--db", url])
            #expect(result.status != 0, "\(arguments)")
            #expect(result.stderr.contains("PostgreSQL") && result.stderr.contains("postgresql://app@127.0.0.1:1/gate"), "\(result.stderr)")
            #expect(!(result.stdout + result.stderr).contains("hunter2"))
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory.url.path).isEmpty)
    }
}
