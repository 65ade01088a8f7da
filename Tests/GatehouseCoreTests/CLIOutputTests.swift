import Foundation
import GatehouseTestSupport
import GRDB
import Testing
import TerminalKit
@testable import GatehouseCore

/// Field report I through the real `gatehouse` binary: widths in cells, text from outside
/// neutralised in every human-readable output, one naming rule for every `--json`, negative numbers.
@Suite("CLI output")
struct CLIOutputTests {
    private func gatehouse(_ arguments: [String], db: String) async throws -> Subprocess.Result {
        try await GatehouseBinary.run(arguments + ["--db", db])
    }

    /// True when no scalar a terminal could act on is in `text` (newlines separate lines).
    static func isInert(_ text: String) -> Bool {
        text.unicodeScalars.allSatisfy { $0 == "\n" || !TerminalText.isUnsafe($0) }
    }

    @Test("sessions list pads by display width: CJK and emoji rows line up, and no address is cut")
    func widths() async throws {
        let test = try TestGatehouse()
        let emails = ["王芳@例子.test", "😀😀party@example.test", "bob@example.test", "e\u{301}lodie@example.test", "👍🏽team@example.test"]
        for email in emails {
            let churn = try await gatehouse(["debug", "login-churn", "--count", "1", "--email", email], db: test.path)
            #expect(churn.status == 0, "\(churn.stderr)")
        }
        let listed = try await gatehouse(["sessions", "list"], db: test.path)
        #expect(listed.status == 0, "\(listed.stderr)")
        let lines = listed.stdout.split(separator: "\n").map(String.init)
        #expect(lines.count == emails.count + 1)
        // Every row's KIND cell starts at the header's display column.
        let header = try #require(lines.first)
        let kindColumn = Self.displayColumn(of: "KIND", in: header)
        for line in lines.dropFirst() {
            #expect(Self.displayColumn(of: " api ", in: line).map { $0 + 1 } == kindColumn, "misaligned:\n\(listed.stdout)")
        }
        // Whole addresses, in the form the next command accepts.
        for email in ["王芳@例子.test", "😀😀party@example.test", "\u{E9}lodie@example.test", "👍🏽team@example.test"] {
            #expect(listed.stdout.contains(email), "\(email) cut or changed:\n\(listed.stdout)")
            let again = try await gatehouse(["sessions", "list", "--user", email, "--json"], db: test.path)
            #expect(again.status == 0 && again.stdout.contains("\"handle\""), "\(email): \(again.stderr)")
        }
    }

    /// The display column at which `text` starts in `line`.
    static func displayColumn(of text: String, in line: String) -> Int? {
        guard let range = line.range(of: text) else { return nil }
        return DisplayWidth.of(String(line[..<range.lowerBound]))
    }

    @Test("controls, OSC sequences and bidi overrides from outside are shown escaped in every human-readable output")
    func neutralised() async throws {
        let test = try TestGatehouse(realTime: true)
        // A user agent as it came over HTTP: C1 OSC … ST and a right-to-left override.
        let c1 = "Mozilla/5.0 \u{9D}2;owned\u{9C} \u{202E}gnp.exe"
        let (login, _) = try await test.apiLogin("mallory@example.com")
        _ = try await test.login("mallory@example.com", kind: .web, context: ClientContext(ip: "198.51.100.9", userAgent: c1))
        // A row written by another writer of the file: ESC ] 2 (title), BEL, ESC ] 52 (clipboard).
        let osc = "\u{1B}]2;owned\u{07}\u{1B}]52;c;cHduZWQ=\u{07}"
        try test.rawWrite("UPDATE sessions SET user_agent = '\(osc)' WHERE handle = '\(login.session.handle)'")
        try test.rawWrite("INSERT INTO rate_limit_buckets (key, policy, \"limit\", period, tat, allowed_total, blocked_total, updated_at) "
                          + "SELECT 'refresh:\(osc)', policy, \"limit\", period, tat, allowed_total, blocked_total, updated_at "
                          + "FROM rate_limit_buckets LIMIT 1")
        try await test.gatehouse.audit.record(AuditEntry(actor: .system, action: "test.hostile", targetType: "session",
                                                         targetId: login.session.handle, reason: osc,
                                                         context: ClientContext(ip: "198.51.100.9", userAgent: c1),
                                                         details: ["note": c1 + osc]))
        let enqueued = try await gatehouse(["jobs", "start", "audit-report", "--from", "2000-01-01", "--to", "2100-01-01", "--action", osc], db: test.path)
        #expect(enqueued.status == 0, "\(enqueued.stderr)")

        let commands: [[String]] = [
            ["sessions", "list"], ["sessions", "list", "--wide"], ["sessions", "show", login.session.handle], ["audit", "tail", "--limit", "50"],
            ["limits", "list"], ["explain", "--session", login.session.handle], ["explain", "--user", "mallory@example.com"],
            ["tokens", "list"], ["jobs", "list"], ["jobs", "show", "1"],
        ]
        for command in commands {
            let result = try await gatehouse(command, db: test.path)
            #expect(result.status == 0, "\(command): \(result.stderr)")
            #expect(Self.isInert(result.stdout), "\(command) printed raw controls: \(result.stdout.debugDescription)")
        }
        let shown = try await gatehouse(["sessions", "show", login.session.handle], db: test.path).stdout
        #expect(shown.contains("\\x1B]2;owned\\x07\\x1B]52;c;cHduZWQ=\\x07"), "\(shown)")
        let audit = try await gatehouse(["audit", "tail", "--limit", "50"], db: test.path).stdout
        #expect(audit.contains("\\x9D2;owned\\x9C \\u{202E}gnp.exe"), "\(audit)")
        // An error that quotes what was typed is neutralised too.
        let missing = try await gatehouse(["sessions", "show", "ses_\u{1B}]2;x\u{07}"], db: test.path)
        #expect(missing.status == 1 && Self.isInert(missing.stderr) && missing.stderr.contains("\\x1B]2;x\\x07"), "\(missing.stderr)")

        // --json: the same characters as \u escapes; the values decode unchanged.
        for command in [["sessions", "list", "--json"], ["audit", "tail", "--json", "--limit", "50"], ["limits", "list", "--json"],
                        ["explain", "--session", login.session.handle, "--json"], ["jobs", "list", "--json"]] {
            let result = try await gatehouse(command, db: test.path)
            #expect(result.status == 0 && Self.isInert(result.stdout), "\(command): \(result.stdout.debugDescription)")
        }
        let listed = try JSONSerialization.jsonObject(with: Data(try await gatehouse(["sessions", "list", "--json"], db: test.path).stdout.utf8)) as? [String: Any]
        let agents = (listed?["sessions"] as? [[String: Any]])?.compactMap { $0["user_agent"] as? String } ?? []
        #expect(agents.contains { Array($0.unicodeScalars) == Array(c1.unicodeScalars) }, "\(agents)")
        #expect(agents.contains { Array($0.unicodeScalars) == Array(osc.unicodeScalars) }, "\(agents)")
    }

    /// Arguments for every command that has `--json`, in the order they run (a job must exist
    /// before `jobs show`). A new command with `--json` fails the test until it is listed here.
    /// `copy` names its databases itself; every other command gets `--db`.
    static func jsonCommands(handle: String, other: String, copyTo: String, kid: String, scratch: String) -> [(path: String, arguments: [String])] {
        [
            ("init", []), ("copy", ["--to", copyTo]),
            ("sessions list", []), ("sessions show", [handle]), ("tokens list", []), ("limits list", []),
            ("audit tail", []), ("audit verify", []), ("explain", ["--user", "carol@example.com"]),
            ("jobs start", ["user-export", "--user", "carol@example.com"]), ("jobs list", []), ("jobs show", ["1"]),
            ("tokens revoke", ["--session", other, "--yes"]), ("sessions revoke", [handle, "--yes"]),
            ("keys list", []), ("keys rotate", ["--yes"]), ("keys retire", [kid, "--confirm", kid]),
            ("audit checkpoint", ["--key", scratch + "/checkpoint.key", "--create-key", "--to", scratch + "/checkpoints"]),
            ("audit archive", ["--before", "2000-01-01", "--to", scratch + "/archives"]),
            ("backup", ["--to", scratch + "/backup.sqlite"]),
            ("restore", ["--from", scratch + "/backup.sqlite", "--db", scratch + "/restored.sqlite"]),
        ]
    }

    @Test("every --json output uses snake_case keys, checked over every command that has --json", .sqliteOnly)
    func jsonContract() async throws {
        let test = try TestGatehouse(realTime: true)
        let (first, _) = try await test.apiLogin("carol@example.com")
        let (second, _) = try await test.apiLogin("dave@example.com")
        _ = try await test.gatehouse.forensics.explain(.user(email: "carol@example.com"))
        // A user the v4 migration leaves apart, so that init's conflict report is held to the rule too.
        try test.rawWrite("""
            DELETE FROM grdb_migrations WHERE identifier = 'v4-normalised-emails';
            DROP TABLE user_email_conflicts;
            INSERT INTO users (email, created_at) VALUES ('Carol@example.com', 0);
            """)

        // Which commands have --json, from the command tree itself.
        let dump = try await GatehouseBinary.run(["--experimental-dump-help"])
        let tree = try #require(try? JSONSerialization.jsonObject(with: Data(dump.stdout.utf8)) as? [String: Any],
                                "--experimental-dump-help printed: \(dump.stdout.prefix(300).debugDescription) (status \(dump.status), stderr: \(dump.stderr))")
        var withJSON: Set<String> = []
        func walk(_ command: [String: Any], path: [String]) {
            let here = path + [command["commandName"] as? String ?? ""]
            let arguments = command["arguments"] as? [[String: Any]] ?? []
            if arguments.contains(where: { ($0["names"] as? [[String: Any]])?.contains { $0["name"] as? String == "json" } == true }) {
                withJSON.insert(here.joined(separator: " "))
            }
            for sub in command["subcommands"] as? [[String: Any]] ?? [] { walk(sub, path: here) }
        }
        let root = try #require(tree["command"] as? [String: Any])
        for sub in root["subcommands"] as? [[String: Any]] ?? [] { walk(sub, path: []) }
        let table = Self.jsonCommands(handle: first.session.handle, other: second.session.handle, copyTo: test.directory.path("copy.sqlite"),
                                     kid: try await test.gatehouse.accessTokens.keyID(), scratch: test.directory.url.path)
        #expect(withJSON == Set(table.map(\.path)), "commands with --json and the table differ: \(withJSON.symmetricDifference(table.map(\.path)))")

        for (path, arguments) in table {
            let database = path == "copy" ? ["--from", test.path] : path == "restore" ? [] : ["--db", test.path]
            let result = try await GatehouseBinary.run(path.split(separator: " ").map(String.init) + arguments + ["--json"] + database)
            #expect(result.status == 0, "\(path): \(result.stderr)")
            // Named on failure: which command printed something that is not one JSON document.
            let document = try #require(try? JSONSerialization.jsonObject(with: Data(result.stdout.utf8)),
                                        "\(path) --json printed: \(result.stdout.debugDescription) (stderr: \(result.stderr))")
            let bad = Self.keys(of: document).filter { $0.wholeMatch(of: /[a-z0-9]+(_[a-z0-9]+)*/) == nil }
            #expect(bad.isEmpty, "\(path) --json has keys that are not snake_case: \(bad)")
        }
    }

    /// Every object key in a JSON document, at any depth.
    static func keys(of value: Any) -> Set<String> {
        switch value {
        case let object as [String: Any]: Set(object.keys).union(object.values.flatMap { keys(of: $0) })
        case let array as [Any]: Set(array.flatMap { keys(of: $0) })
        default: []
        }
    }

    @Test("option values that start with '-' parse (--priority -5, --user -bob@…, --reason -x); out-of-range numbers are usage errors naming the option")
    func negativeNumbers() async throws {
        let test = try TestGatehouse()
        let (login, _) = try await test.apiLogin("-bob@example.com")
        let listed = try await gatehouse(["sessions", "list", "--user", "-bob@example.com"], db: test.path)
        #expect(listed.status == 0 && listed.stdout.contains(login.session.handle), "\(listed.stderr)")
        let revoked = try await gatehouse(["sessions", "revoke", login.session.handle, "--reason", "-leaked", "--yes"], db: test.path)
        #expect(revoked.status == 0, "\(revoked.stderr)")
        #expect(try await test.gatehouse.audit.tail(limit: 5).contains { $0.action == "session.revoked" && $0.reason == "-leaked" })
        let started = try await gatehouse(["jobs", "start", "user-export", "--user", "a@example.com", "--priority", "-5"], db: test.path)
        #expect(started.status == 0, "\(started.stderr)")
        #expect(try await test.gatehouse.jobs.find(id: 1)?.job.priority == -5)
        for arguments in [["sessions", "list", "--limit", "-5"], ["tokens", "list", "--limit", "0"], ["audit", "tail", "--interval", "-1"],
                          ["jobs", "list", "--limit", "-1"], ["limits", "list", "--limit", "-2"]] {
            let refused = try await gatehouse(arguments, db: test.path)
            #expect(refused.status == 2 && refused.stderr.contains("must be between"), "\(arguments): \(refused.stderr)")
        }
    }

    @Test("init reports users whose addresses collide once normalised, merges nothing, and says what to do", .sqliteOnly)
    func initReportsCollisions() async throws {
        let test = try TestGatehouse()
        _ = try await test.login("\u{E9}lodie@example.test")
        try test.rawWrite("""
            DELETE FROM grdb_migrations WHERE identifier = 'v4-normalised-emails';
            DROP TABLE user_email_conflicts;
            INSERT INTO users (email, created_at, credits) VALUES ('e\u{301}lodie@example.test', 0, 300);
            """)
        let result = try await gatehouse(["init"], db: test.path)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stderr.contains("nothing was merged") && result.stderr.contains("e\\u{301}lodie@example.test"), "\(result.stderr)")
        #expect(result.stderr.contains("300 credits") && result.stderr.contains("can no longer log in"), "\(result.stderr)")
        let json = try JSONSerialization.jsonObject(with: Data(try await gatehouse(["init", "--json"], db: test.path).stdout.utf8)) as? [String: Any]
        let conflicts = json?["email_conflicts"] as? [[String: Any]]
        #expect(conflicts?.count == 1 && conflicts?.first?["kept_user_id"] as? Int == 1)
    }
}
