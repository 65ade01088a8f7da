import Foundation
import GRDB
import GatehouseTestSupport
import Testing
@testable import GatehouseCore

/// Field report I, item 3: one mailbox is one user, however it was typed.
@Suite("Email addresses: one mailbox, one user")
struct EmailAddressTests {
    /// Byte-for-byte: Swift's `==` holds canonically equivalent strings equal, which would hide the bug.
    static func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

    static let nfc = "\u{E9}lodie@example.test"

    @Test("spellings of one address normalise to the same bytes", arguments: [
        ("\u{E9}lodie@example.test", nfc),                          // precomposed
        ("e\u{301}lodie@example.test", nfc),                        // decomposed
        ("\u{C9}LODIE@EXAMPLE.TEST", nfc),                          // upper case, precomposed
        ("E\u{301}lodie@Example.Test", nfc),                        // upper case, decomposed
        ("  \u{E9}lodie@example.test.\n", nfc),                     // white space, trailing root dot
        ("\u{E9}lodie@ＥＸＡＭＰＬＥ．ｔｅｓｔ", nfc),                  // full-width domain (UTS #46 mapping)
        ("\u{E9}lodie@example\u{3002}test", nfc),                   // ideographic full stop
        ("Stra\u{DF}e@example.test", "strasse@example.test"),       // full case folding
        ("\u{212B}ngstr\u{F6}m@example.test", "\u{E5}ngstr\u{F6}m@example.test"), // Angstrom sign → å
        ("bob@xn--bcher-kva.example", "bob@b\u{FC}cher.example"),   // A-label (Punycode) → Unicode
        ("bob@B\u{DC}CHER.example", "bob@b\u{FC}cher.example"),
        ("王芳@例子.test", "王芳@例子.test"),
        ("王芳@xn--fsqu00a.test", "王芳@例子.test"),
    ])
    func normalises(_ typed: String, _ expected: String) throws {
        #expect(Self.bytes(try EmailAddress.normalize(typed)) == Self.bytes(expected))
    }

    @Test("what the rule refuses, with a reason", arguments: [
        "no-at-sign", "a@b@example.test", "@example.test", "alice@localhost", "alice@example..test",
        "ali\u{202E}ce@example.test", "alice\u{200B}@example.test", "ali ce@example.test", "alice@xn--zz-\u{0}.test",
        "alice@xn--a-ecp.ru\u{9D}", "a\"b@example.test", String(repeating: "a", count: 65) + "@example.test",
        "alice@xn--99999999999999999999.test",
        "👨\u{200D}👩\u{200D}👧@example.test",                     // a joiner is a format character: refused like the rest
        "u@x\u{FF20}evil.test",                                    // full-width @: NFKC makes it a second @
        "u@xn--ab-iw3n.test",                                       // an A-label that decodes to a＠b
        "u@xn---abc.test",                                          // RFC 3492: no basic code points, no delimiter
        "u@xn--xn--bcher-kva-.test",                                // decodes to ASCII (another A-label)
        "u@" + String(repeating: "a", count: 64) + ".test",         // a label over 63 bytes
    ])
    func refuses(_ typed: String) {
        #expect(throws: AuthError.self) { try EmailAddress.normalize(typed) }
    }

    @Test("normalising a normalised address changes nothing", arguments: [
        "\u{C9}LODIE@EXAMPLE.TEST", "bob@xn--bcher-kva.example", "王芳@xn--fsqu00a.test", "Stra\u{DF}e@ＥＸＡＭＰＬＥ．ｔｅｓｔ",
    ])
    func idempotent(_ typed: String) throws {
        let once = try EmailAddress.normalize(typed)
        #expect(Self.bytes(try EmailAddress.normalize(once)) == Self.bytes(once))
    }

    @Test("Punycode decodes RFC 3492's samples")
    func punycode() {
        #expect(Punycode.decode("bcher-kva") == "b\u{FC}cher")
        #expect(Punycode.decode("ihqwcrb4cv8a8dqg056pqjye") == "\u{4ED6}\u{4EEC}\u{4E3A}\u{4EC0}\u{4E48}\u{4E0D}\u{8BF4}\u{4E2D}\u{6587}")
        #expect(Punycode.decode("egbpdaj6bu4bxfgehfvwxn") == "\u{644}\u{64A}\u{647}\u{645}\u{627}\u{628}\u{62A}\u{643}\u{644}\u{645}\u{648}\u{634}\u{639}\u{631}\u{628}\u{64A}\u{61F}")
        #expect(Punycode.decode("-> $1.00 <--") == "-> $1.00 <-")
        #expect(Punycode.decode("a!") == nil)
        #expect(Punycode.decode("-abc") == nil)
        #expect(Punycode.decode("99999999999999999999") == nil)
    }

    @Test("logins typed two ways are one user and fill one per-address bucket")
    func oneUserOneBucket() async throws {
        let test = try TestGatehouse()
        let first = try await test.login("\u{E9}lodie@example.test")
        let second = try await test.login("E\u{301}LODIE@example.test")
        #expect(first.user.id == second.user.id)
        #expect(Self.bytes(first.user.email) == Self.bytes(Self.nfc))
        let users = try await test.gatehouse.database.read { tx in try tx.fetchScalar(Int.self, "SELECT count(*) FROM users") }
        #expect(users == 1)
        let buckets = try await test.gatehouse.database.read { tx in
            try tx.fetchColumn(String.self, "SELECT key FROM rate_limit_buckets WHERE policy = 'magic-link-email'")
        }
        #expect(buckets.count == 1, "\(buckets)")
        // Every entry point that takes an address agrees: listings, revocation, forensics, jobs.
        #expect(try await test.gatehouse.sessions.list(.init(email: "e\u{301}lodie@EXAMPLE.test"), limit: 10).count == 2)
        #expect(try await test.gatehouse.refreshTokens.list(.init(email: "\u{C9}lodie@example.test"), limit: 10).count == 2)
        #expect(try await test.gatehouse.userEmails(startingWith: "E\u{301}lo").map(Self.bytes) == [Self.bytes(Self.nfc)])
        let job = try await test.gatehouse.jobs.enqueue(JobRequest(kind: "user-export", arguments: ["user": "E\u{301}lodie@Example.test"]),
                                                        by: .system)
        #expect(job.job.arguments["user"].map(Self.bytes) == Self.bytes(Self.nfc))
        let story = try await test.gatehouse.forensics.explain(.user(email: "e\u{301}lodie@example.test"))
        #expect(story.sessions.count == 2)
    }

    @Test("the migration normalises stored addresses, audits each, and merges nothing when two collide", .sqliteOnly)
    func migration() async throws {
        let test = try TestGatehouse()
        _ = try await test.login(Self.nfc)
        _ = try await test.login(Self.nfc)
        _ = try await test.login("zoe@example.test")
        // The file as an older version left it: v4 not applied, addresses stored as typed.
        try test.rawWrite("""
            DELETE FROM grdb_migrations WHERE identifier = 'v4-normalised-emails';
            DROP TABLE user_email_conflicts;
            INSERT INTO users (email, created_at, credits) VALUES ('e\u{301}lodie@example.test', 0, 500);
            INSERT INTO users (email, created_at) VALUES ('Yann@EXAMPLE.test', 0);
            INSERT INTO users (email, created_at) VALUES ('bad@xn---abc.test', 0);
            UPDATE users SET email = 'ZOE@example.test' WHERE email = 'zoe@example.test';
            """)
        // The user left apart has a session of its own, which its stored spelling names.
        try test.rawWrite("""
            UPDATE sessions SET user_id = 3 WHERE id = (SELECT max(id) FROM sessions WHERE user_id = 1);
            """)
        // As `gatehouse init` opens it: only init and serve upgrade a schema.
        let reopened = try Gatehouse.open(path: test.path, options: TestEngine.options(createIfMissing: true))
        let emails = try await reopened.database.read { tx in try tx.fetchColumn(String.self, "SELECT email FROM users ORDER BY id") }
        #expect(emails.map(Self.bytes) == [Self.nfc, "zoe@example.test", "e\u{301}lodie@example.test", "yann@example.test",
                                           "bad@xn---abc.test"].map(Self.bytes))
        let conflicts = try await reopened.emailConflicts()
        #expect(conflicts.count == 2)
        let conflict = try #require(conflicts.first)
        #expect(Self.bytes(conflict.storedEmail) == Self.bytes("e\u{301}lodie@example.test"))
        #expect(conflict.normalizedEmail.map(Self.bytes) == Self.bytes(Self.nfc) && conflict.keptUserId == 1 && conflict.credits == 500)
        #expect(conflict.activeSessionCount == 1)
        let invalid = try #require(conflicts.last)
        #expect(invalid.normalizedEmail == nil && invalid.problem?.contains("A-label") == true, "\(invalid)")
        let actions = try await reopened.audit.tail(limit: 4).map(\.action)
        #expect(actions.filter { $0 == "user.email_normalized" }.count == 2 && actions.filter { $0 == "user.email_conflict" }.count == 2,
                "\(actions)")
        #expect(try await reopened.audit.verify().isIntact)

        // Operator paths name the user by its stored spelling; the normalised spelling names the kept user.
        let apart = try await reopened.sessions.list(.init(email: "e\u{301}lodie@example.test"), limit: 10)
        #expect(apart.count == 1 && apart.allSatisfy { $0.session.userId == 3 })
        let kept = try await reopened.sessions.list(.init(email: Self.nfc), limit: 10)
        #expect(kept.count == 1 && kept.allSatisfy { $0.session.userId == 1 })
        let export = try await reopened.jobs.enqueue(JobRequest(kind: "user-export", arguments: ["user": "e\u{301}lodie@example.test"]), by: .system)
        #expect(export.job.arguments["user"].map(Self.bytes) == Self.bytes("e\u{301}lodie@example.test"))
        let revoked = try await reopened.sessions.revokeAll(email: "e\u{301}lodie@example.test", by: .system)
        #expect(revoked == apart.map(\.session.handle))
        #expect(try await reopened.sessions.list(.init(email: Self.nfc, state: .active), limit: 10).count == 1)
    }
}
