import Foundation
import GatehouseTestSupport
import Testing
@testable import GatehouseCore

/// Going live with real peers: msmtp (Debian's sendmail) relaying to an SMTP server on
/// loopback (aiosmtpd), and PyJWT verifying tokens from the JWKS alone.
@Suite("Going live: real mail, key rotation seen by PyJWT", .serialized)
struct GoingLiveTests {
    static let publicURL = "https://app.example.test"

    /// Waits (generously) for `condition`; records an issue naming `what` if it never holds.
    static func eventually<T>(_ what: String, timeout: Duration = .seconds(90), _ value: () async throws -> T?) async throws -> T {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if let value = try await value() { return value }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw WaitError.never(what)
    }

    enum WaitError: Error { case never(String) }

    /// Runs a `serve` that must refuse to start: one that starts after all is stopped after two
    /// minutes instead of hanging the test (its status then is not the one expected).
    static func refusedServe(_ arguments: [String], environment: [String: String] = [:]) async throws -> Subprocess.Result {
        let process = try GatehouseBinary.start(["serve"] + arguments, environment: environment)
        let watchdog = Task {
            try await Task.sleep(for: .seconds(120))
            process.terminate()
        }
        defer { watchdog.cancel() }
        return await process.exit()
    }

    static func outbox(_ db: String, _ recipient: String) async throws -> [(message: OutboxMessage, secret: String?)] {
        let gatehouse = try Gatehouse.open(path: db, options: TestEngine.options())
        defer { try? gatehouse.database.close() }
        return try await gatehouse.database.read { tx in
            try tx.fetchColumn(Int64.self, "SELECT id FROM outbox WHERE recipient = ? ORDER BY id", [recipient]).map { id in
                let pending = try MailDelivery.Pending.load(id, in: tx)!
                return (pending.message, pending.linkSecret)
            }
        }
    }

    @Test("a link requested over HTTP arrives through msmtp at a real SMTP relay, points at the public URL and signs in; the stored copy holds no usable token",
          .enabled(if: PythonTools.mailTestsRun))
    func mailArrives() async throws {
        let relay = try await SMTPRelay()
        let directory = try TemporaryDirectory()
        let db = try directory.database("mail")
        let server = try await ServeProcessTests.start(db: db, [
            "--public-url", Self.publicURL, "--sendmail", try relay.sendmailCommand(), "--mail-from", "Example <no-reply@example.test>"])
        defer { server.stop() }
        let requested = try await HTTPRequester.shared.send("POST", server.base + "/api/v1/auth/magic-link", json: #"{"email":"Alice@Example.com"}"#)
        #expect(requested.status == 202 && requested.json["dev_token"] == nil, "\(requested.text)")

        let mail = try await Self.eventually("the mail reaches the relay") { relay.messages().first }
        #expect(mail.contains("To: alice@example.com") && mail.contains("From: Example <no-reply@example.test>"), "\(mail)")
        let link = try #require(mail.split(whereSeparator: \.isNewline).first { $0.contains("\(Self.publicURL)/login?token=") })
        let token = String(try #require(link.split(separator: "=").last))
        #expect(token.count == 43)

        let verified = try await HTTPRequester.shared.send("POST", server.base + "/api/v1/auth/verify", json: #"{"token":"\#(token)"}"#)
        #expect(verified.status == 200 && verified.json["access_token"] != nil, "\(verified.text)")

        let stored = try await Self.eventually("the delivery is recorded") {
            try await Self.outbox(db, "alice@example.com").first { $0.message.delivery == .sent }
        }
        #expect(stored.secret == nil && !stored.message.body.contains(token))
        #expect(stored.message.deliveryNote?.contains("accepted") == true)
        let dump = try await GatehouseBinary.run(["audit", "tail", "--json", "--limit", "100", "--db", db])
        #expect(dump.stdout.contains("mail.sent") && !dump.stdout.contains(token))
    }

    @Test("a relay that refuses (550) ends failed and one that is down deferred, each with the reason in explain",
          .enabled(if: PythonTools.mailTestsRun))
    func refusedAndDown() async throws {
        let relay = try await SMTPRelay()
        let directory = try TemporaryDirectory()
        let db = try directory.database("refused")
        let server = try await ServeProcessTests.start(db: db, ["--public-url", Self.publicURL, "--workers", "0"])
        defer { server.stop() }
        for email in ["refuse-me@example.com", "carol@example.com"] {
            let requested = try await HTTPRequester.shared.send("POST", server.base + "/api/v1/auth/magic-link", json: #"{"email":"\#(email)"}"#)
            #expect(requested.status == 202)
        }
        // The refusal: a worker hands both over to the live relay, which refuses the first address.
        let first = try await GatehouseBinary.run(["worker", "--until-idle", "--db", db, "--sendmail", try relay.sendmailCommand()])
        #expect(first.status == 0, "\(first.stderr)")
        let refused = try #require(try await Self.outbox(db, "refuse-me@example.com").first)
        #expect(refused.message.delivery == .failed && refused.secret == nil)
        #expect(refused.message.deliveryNote?.contains("550 5.1.1") == true, "\(refused.message.deliveryNote ?? "")")
        let explained = try await GatehouseBinary.run(["explain", "--user", "refuse-me@example.com", "--db", db])
        #expect(explained.stdout.contains("never_signed_in") && explained.stdout.contains("FAILED") && explained.stdout.contains("550"),
                "\(explained.stdout)")

        // The relay down: msmtp cannot connect; the mail is deferred and keeps its link for the retry.
        let request = try await HTTPRequester.shared.send("POST", server.base + "/api/v1/auth/magic-link", json: #"{"email":"dave@example.com"}"#)
        #expect(request.status == 202)
        let down = try await GatehouseBinary.run(["worker", "--until-idle", "--db", db, "--sendmail", try relay.sendmailCommand(port: 1)])
        #expect(down.status == 0, "\(down.stderr)")
        let deferred = try #require(try await Self.outbox(db, "dave@example.com").first)
        #expect(deferred.message.delivery == .deferred && deferred.secret != nil)
        #expect(deferred.message.deliveryNote?.contains("Connection refused") == true, "\(deferred.message.deliveryNote ?? "")")
        let json = try await GatehouseBinary.run(["explain", "--user", "dave@example.com", "--json", "--db", db])
        let links = try #require((try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])?["sign_in_links"] as? [[String: Any]])
        #expect(links.first?["delivery"] as? String == "deferred" && (links.first?["delivery_note"] as? String)?.contains("Connection refused") == true)
        #expect(relay.messages().count == 1)  // carol's
    }

    @Test("PyJWT verifies tokens signed before and after a rotation from the JWKS alone, and refuses a retired key's token",
          .enabled(if: PythonTools.testsRun))
    func pyjwtRotation() async throws {
        let python = try PythonTools.required()
        let directory = try TemporaryDirectory()
        let db = try directory.database("keys")
        let server = try await ServeProcessTests.start(db: db, ["--dev"])
        defer { server.stop() }
        func login(_ email: String) async throws -> String {
            let link = try await HTTPRequester.shared.send("POST", server.base + "/api/v1/auth/magic-link", json: #"{"email":"\#(email)"}"#)
            let verified = try await HTTPRequester.shared.send("POST", server.base + "/api/v1/auth/verify",
                                                               json: #"{"token":"\#(link.json["dev_token"] as? String ?? "")"}"#)
            return try #require(verified.json["access_token"] as? String)
        }
        func pyjwt(_ tokens: [String]) async throws -> [String] {
            let run = try await Subprocess.run(python, [PythonTools.fixture("verify_jwt.py"), server.base + "/.well-known/jwks.json", "gatehouse"] + tokens)
            #expect(run.status == 0, "\(run.stderr)")
            return run.stdout.split(separator: "\n").map(String.init)
        }
        let before = try await login("alice@example.com")
        let oldKid = try #require(AccessTokenIssuer.headerKid(before))
        let rotated = try await GatehouseBinary.run(["keys", "rotate", "--yes", "--db", db])
        #expect(rotated.status == 0, "\(rotated.stderr)")
        // The server notices within its reload interval: its JWKS lists the current key first.
        _ = try await Self.eventually("the server takes up the new key") {
            let jwks = try await HTTPRequester.shared.send("GET", server.base + "/.well-known/jwks.json")
            let kids = ((jwks.json["keys"] as? [[String: Any]]) ?? []).compactMap { $0["kid"] as? String }
            return kids.count == 2 && kids[1] == oldKid ? true : nil
        }
        let after = try await login("bob@example.com")
        let newKid = try #require(AccessTokenIssuer.headerKid(after))
        #expect(try await pyjwt([before, after]) == ["ok \(oldKid)", "ok \(newKid)"])

        let retired = try await GatehouseBinary.run(["keys", "retire", oldKid, "--confirm", oldKid, "--reason", "test", "--db", db])
        #expect(retired.status == 0, "\(retired.stderr)")
        _ = try await Self.eventually("the JWKS drops the retired key") {
            let jwks = try await HTTPRequester.shared.send("GET", server.base + "/.well-known/jwks.json")
            return jwks.text.contains(oldKid) ? nil : true
        }
        let verdicts = try await pyjwt([before, after])
        #expect(verdicts.count == 2 && verdicts[0].hasPrefix("refused \(oldKid)") && verdicts[1] == "ok \(newKid)", "\(verdicts)")
        // Gatehouse itself refuses it too, and a typed confirmation that does not match changes nothing.
        let wrong = try await GatehouseBinary.run(["keys", "retire", newKid, "--confirm", "yes", "--db", db])
        #expect(wrong.status == 2 && wrong.stderr.contains("does not match"))
        let list = try await GatehouseBinary.run(["keys", "list", "--json", "--db", db])
        let states = ((try JSONSerialization.jsonObject(with: Data(list.stdout.utf8)) as? [String: Any])?["signing_keys"] as? [[String: Any]])?
            .compactMap { $0["state"] as? String }
        #expect(states == ["current", "retired"])
    }

    @Test("outside --dev serve refuses to start without a public URL, and says why; mail settings are checked with file:line")
    func startRefusals() async throws {
        let directory = try TemporaryDirectory()
        let db = try directory.database("refusal")
        let bare = try await Self.refusedServe(["--db", db, "--port", "0"])
        #expect(bare.status == 2 && bare.stderr.contains("no public URL") && bare.stderr.contains("--public-url"), "\(bare.stderr)")
        let badURL = try await Self.refusedServe(["--db", db, "--port", "0", "--public-url", "app.example.com"])
        #expect(badURL.status == 2 && badURL.stderr.contains("not an http:// or https:// URL"), "\(badURL.stderr)")
        let template = directory.path("mail.txt")
        try "Subject: Sign in\n\nHello {{name}}: {{link}}\n".write(toFile: template, atomically: true, encoding: .utf8)
        let config = directory.path("gatehouse.toml")
        try "[mail]\npublic_url = \"https://app.example.test\"\ntemplate = \"mail.txt\"\n".write(toFile: config, atomically: true, encoding: .utf8)
        let badTemplate = try await Self.refusedServe(["--db", db, "--port", "0", "--config", config])
        #expect(badTemplate.status == 2 && badTemplate.stderr.contains("mail.txt:3: unknown placeholder {{name}}"), "\(badTemplate.stderr)")
        try "[mail]\npublic_url = \"https://app.example.test\"\nsendmail = \"msmtp 'oops\"\n".write(toFile: config, atomically: true, encoding: .utf8)
        let badCommand = try await Self.refusedServe(["--db", db, "--port", "0", "--config", config])
        #expect(badCommand.status == 2 && badCommand.stderr.contains("gatehouse.toml:3:") && badCommand.stderr.contains("unclosed quote"),
                "\(badCommand.stderr)")
    }

    @Test("init --signing-keys keeps the private key in a 0600 file, not the database; serve without the file refuses, with it serves")
    func keyFileDeployment() async throws {
        let directory = try TemporaryDirectory()
        let db = try directory.database("keyfile")
        let file = directory.path("signing-keys.json")
        let created = try await GatehouseBinary.run(["init", "--db", db, "--signing-keys", file])
        #expect(created.status == 0, "\(created.stderr)")
        let mode = try FileManager.default.attributesOfItem(atPath: file)[.posixPermissions] as? NSNumber
        #expect(mode?.uint16Value == 0o600)
        let listed = try await GatehouseBinary.run(["keys", "list", "--json", "--db", db])
        let keys = (try JSONSerialization.jsonObject(with: Data(listed.stdout.utf8)) as? [String: Any])?["signing_keys"] as? [[String: Any]]
        #expect(keys?.map { $0["storage"] as? String } == ["key_file"], "\(listed.stdout)")

        let without = try await Self.refusedServe(["--db", db, "--port", "0", "--dev"])
        #expect(without.status == 1 && without.stderr.contains("signing-key file"), "\(without.stderr)")
        let server = try await ServeProcessTests.start(db: db, ["--dev"], environment: ["GATEHOUSE_SIGNING_KEYS": file])
        defer { server.stop() }
        let link = try await HTTPRequester.shared.send("POST", server.base + "/api/v1/auth/magic-link", json: #"{"email":"kim@example.com"}"#)
        let verified = try await HTTPRequester.shared.send("POST", server.base + "/api/v1/auth/verify",
                                                           json: #"{"token":"\#(link.json["dev_token"] as? String ?? "")"}"#)
        #expect(verified.status == 200 && verified.json["access_token"] != nil, "\(verified.text)")
    }

    @Test("secrets on the command line may come from standard input ('-'), never from the arguments ps shows")
    func secretsFromStandardInput() async throws {
        let test = try await ServerFixtureDatabase.loggedIn()
        let run = try await Subprocess.run("/bin/sh", ["-c", #"printf '%s\n' "$1" | "$0" explain --refresh-token - --db "$2""#,
                                                 GatehouseBinary.url.path, test.refreshToken, test.db])
        #expect(run.status == 0 && run.stdout.contains("Session \(test.handle)"), "\(run.stdout) \(run.stderr)")
        let empty = try await Subprocess.run("/bin/sh", ["-c", #"printf '' | "$0" tokens revoke --token - --yes --db "$1""#,
                                                   GatehouseBinary.url.path, test.db])
        #expect(empty.status == 2 && empty.stderr.contains("standard input had no value"), "\(empty.stderr)")
        let revoked = try await Subprocess.run("/bin/sh", ["-c", #"printf '%s\n' "$1" | "$0" tokens revoke --token - --yes --db "$2""#,
                                                     GatehouseBinary.url.path, test.refreshToken, test.db])
        #expect(revoked.status == 0 && revoked.stdout.contains("revoked"), "\(revoked.stdout) \(revoked.stderr)")
    }
}

/// A database with one API login, made in process, for CLI tests.
struct ServerFixtureDatabase {
    let directory: TemporaryDirectory
    let db: String
    let handle: String
    let refreshToken: String

    static func loggedIn() async throws -> ServerFixtureDatabase {
        let directory = try TemporaryDirectory()
        let db = try directory.database("cli")
        let gatehouse = try Gatehouse.open(path: db, options: TestEngine.options(createIfMissing: true))
        defer { try? gatehouse.database.close() }
        let link = try await gatehouse.magicLinks.requestMagicLink(email: "erin@example.com")
        let login = try await gatehouse.magicLinks.verifyMagicLink(token: link.token.value)
        guard case .tokens(let pair) = login.credential else { throw GoingLiveTests.WaitError.never("a token pair") }
        return ServerFixtureDatabase(directory: directory, db: db, handle: login.session.handle, refreshToken: pair.refreshToken.value)
    }
}
