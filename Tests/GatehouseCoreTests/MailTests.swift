import Foundation
import GatehouseTestSupport
import Testing
@testable import GatehouseCore

@Suite("Sign-in mail: template, delivery, secrets at rest")
struct MailTests {
    /// A Gatehouse that sends mail and a sendmail stand-in: a shell script that keeps what it
    /// reads (the real msmtp and SMTP relay are in the server's MailDeliveryTests) and exits
    /// with the status and words in `answer`.
    struct Sending {
        let test: TestGatehouse
        let received: String
        let answer: String

        init() throws {
            test = try TestGatehouse { configuration in
                configuration.mail.delivery = .sendmail
                configuration.mail.publicURL = "https://app.example.test/"
                configuration.mail.linkPath = "/auth/callback"
                configuration.mail.linkParameter = "t"
                configuration.mail.from = "Example <no-reply@example.test>"
            }
            received = test.directory.path("received.eml")
            answer = test.directory.path("answer")
            try "0\n".write(toFile: answer, atomically: true, encoding: .utf8)
        }

        /// Sets what the stand-in answers: an exit status and what it prints.
        func answer(status: Int, saying words: String = "") throws {
            try "\(status)\n\(words)".write(toFile: answer, atomically: true, encoding: .utf8)
        }

        func deliver() async {
            let script = """
                cat > "$0"; { read status; cat; } < "$1" >&2; read status < "$1"; exit "$status"
                """
            let worker = JobWorker(gatehouse: test.gatehouse, options: .init(
                concurrency: 1, pollInterval: 0.05, dataDirectory: URL(fileURLWithPath: test.directory.path("documents")),
                sendmail: SendmailCommand(arguments: ["/bin/sh", "-c", script, received, answer])))
            await worker.runUntilIdle()
        }

        func message(_ id: Int64) async throws -> (message: OutboxMessage, secret: String?) {
            try await test.gatehouse.database.read { tx in
                let pending = try #require(try MailDelivery.Pending.load(id, in: tx))
                return (pending.message, pending.linkSecret)
            }
        }
    }

    @Test("a mail is a job: handed to sendmail with the public URL, then the stored copy keeps only the link's fingerprint")
    func handover() async throws {
        let sending = try Sending()
        let request = try await sending.test.gatehouse.magicLinks.requestMagicLink(email: "Alice@Example.com")
        let queued = try await sending.message(request.outboxId)
        #expect(queued.message.delivery == .queued && queued.secret == request.token.value)
        let jobs = try await sending.test.gatehouse.jobs.list()
        #expect(jobs.map(\.kind) == ["mail"] && jobs.first?.arguments == ["message": String(request.outboxId)])

        await sending.deliver()
        let mail = try String(contentsOfFile: sending.received, encoding: .utf8)
        #expect(mail.contains("https://app.example.test/auth/callback?t=\(request.token.value)"), "\(mail)")
        #expect(mail.contains("\nTo: alice@example.com\n") && mail.contains("From: Example <no-reply@example.test>\n"))
        #expect(mail.contains("Subject: Your sign-in link\n") && mail.contains("Content-Type: text/plain; charset=utf-8"))

        let (sent, secret) = try await sending.message(request.outboxId)
        #expect(sent.delivery == .sent && sent.attempts == 1 && secret == nil)
        #expect(!sent.body.contains(request.token.value))
        #expect(sent.body.contains("[removed at handover: link \(request.token.hash.fingerprint)]"), "\(sent.body)")
        // Nothing anywhere in the database holds the token now.
        try await Self.expectNowhere(request.token.value, in: sending.test)
        #expect(try await sending.test.gatehouse.jobs.list().first?.state == .succeeded)
        #expect(try await sending.test.auditActions().contains("mail.sent"))
        // The mail's link still signs the user in: scrubbing the copy does not touch the link.
        let login = try await sending.test.gatehouse.magicLinks.verifyMagicLink(token: request.token.value)
        #expect(login.user.email == "alice@example.com")
    }

    @Test("a temporary refusal is deferred and retried with the secret kept; a permanent one fails with the relay's words and scrubs")
    func deferredThenFailed() async throws {
        let sending = try Sending()
        let request = try await sending.test.gatehouse.magicLinks.requestMagicLink(email: "bob@example.com")
        try sending.answer(status: 75, saying: "msmtp: cannot connect to 127.0.0.1, port 1: Connection refused")
        await sending.deliver()
        let deferred = try await sending.message(request.outboxId)
        #expect(deferred.message.delivery == .deferred && deferred.secret == request.token.value)
        #expect(deferred.message.deliveryNote?.contains("Connection refused") == true)
        #expect(try await sending.test.gatehouse.jobs.list().first?.state == .queued)

        try sending.answer(status: 65, saying: "msmtp: server message: 550 5.1.1 <bob@example.com>: mailbox unavailable\nmsmtp: could not send mail")
        sending.test.clock.advance(by: 5)  // past the first backoff (1 s + jitter)
        await sending.deliver()
        let failed = try await sending.message(request.outboxId)
        #expect(failed.message.delivery == .failed && failed.message.attempts == 2 && failed.secret == nil)
        #expect(failed.message.deliveryNote?.contains("550 5.1.1") == true, "\(failed.message.deliveryNote ?? "")")
        try await Self.expectNowhere(request.token.value, in: sending.test)
        #expect(try await sending.test.gatehouse.jobs.list().first?.state == .failed)

        // Forensics answers "I never got the email" with the relay's words.
        let explanation = try await sending.test.gatehouse.forensics.explain(.user(email: "bob@example.com"))
        #expect(explanation.verdict.cause == .neverSignedIn)
        #expect(explanation.verdict.summary.contains("FAILED") && explanation.verdict.summary.contains("550"), "\(explanation.verdict.summary)")
        let text = ExplanationText.lines(explanation).map(\.text).joined(separator: "\n")
        #expect(text.contains("Sign-in links") && text.contains("link \(request.token.hash.fingerprint)"), "\(text)")
    }

    @Test("a link that expired before a worker got to it is not sent")
    func expiredBeforeHandover() async throws {
        let sending = try Sending()
        let request = try await sending.test.gatehouse.magicLinks.requestMagicLink(email: "carol@example.com")
        sending.test.clock.advance(by: 16 * 60)
        await sending.deliver()
        #expect(!FileManager.default.fileExists(atPath: sending.received))
        let (message, secret) = try await sending.message(request.outboxId)
        #expect(message.delivery == .failed && secret == nil && message.deliveryNote?.contains("expired") == true)
    }

    @Test("the development sink keeps the usable link and queues nothing; a refused request shows in forensics")
    func developmentSinkAndRefusals() async throws {
        let test = try TestGatehouse()
        let request = try await test.gatehouse.magicLinks.requestMagicLink(email: "dave@example.com")
        let mail = try await test.gatehouse.magicLinks.outbox(recipient: "dave@example.com")
        #expect(mail.first?.delivery == .stored && mail.first?.body.contains("http://localhost:8080/login?token=\(request.token.value)") == true)
        #expect(try await test.gatehouse.jobs.list().isEmpty)
        // The per-address bucket (5/hour) refuses the sixth: recorded against the user.
        for _ in 0..<5 { _ = try? await test.gatehouse.magicLinks.requestMagicLink(email: "dave@example.com") }
        let explanation = try await test.gatehouse.forensics.explain(.user(email: "dave@example.com"))
        #expect(explanation.signInLinks.contains { $0.outcome == .rateLimited }, "\(explanation.signInLinks)")
        #expect(explanation.signInLinks.contains { $0.delivery == .stored && $0.outcome == .usable })
    }

    @Test("templates: placeholders filled; every mistake named with file:line")
    func templates() throws {
        let template = try MailTemplate.parse("Subject: Sign in to Ex — {{email}}\n\nHi,\n{{link}}\nValid {{minutes}} min, until {{expires_at}}.\n", path: "t.txt")
        let rendered = template.render(link: "https://x.test/l?token=abc", email: "a@b.test", lifetime: 900,
                                       expiresAt: Date(timeIntervalSince1970: 1_800_000_000))
        #expect(rendered.subject == "Sign in to Ex — a@b.test")
        #expect(rendered.body == "Hi,\nhttps://x.test/l?token=abc\nValid 15 min, until 2027-01-15T08:00:00Z.")
        for (text, expected) in [("Hello\n\n{{link}}", "t.txt:1: the first line"),
                                 ("Subject: x\n\n{{link}} {{name}}", "t.txt:3: unknown placeholder {{name}}"),
                                 ("Subject: x\n\nno link here", "t.txt: the body never uses {{link}}"),
                                 ("Subject: x\nbody\n{{link}}", "t.txt:2: a blank line"),
                                 ("Subject: {{link}}\n\n{{link}}", "t.txt:1: {{link}} belongs in the body"),
                                 ("Subject: x\n\n{{link}}\u{1B}[2J", "t.txt:3: control character U+1B")] {
            #expect(throws: MailTemplate.FileError.self) { try MailTemplate.parse(text, path: "t.txt") }
            do { _ = try MailTemplate.parse(text, path: "t.txt") } catch {
                #expect(error.description.hasPrefix(expected), "\(error.description)")
            }
        }
        // A non-ASCII subject is RFC 2047 encoded, in words short enough for the RFC.
        let encoded = MailMessage.encodedWord(String(repeating: "Anmeldung für Sie ", count: 8))
        #expect(encoded.hasPrefix("=?utf-8?B?") && encoded.split(separator: "\n").allSatisfy { $0.count <= 76 }, "\(encoded)")
    }

    @Test("sendmail's answer: the SMTP reply class decides, then sysexits.h")
    func classification() throws {
        // Each case where the reply class and the exit status disagree: the reply decides.
        let cases: [(Int32, String, String)] = [
            (0, "", "sent"),
            (69, "msmtp: server message: 550 5.1.1 <x@y>: mailbox unavailable | msmtp: could not send mail", "failed"),
            (65, "msmtp: server message: 451 4.3.0 <x@y>: try again later", "deferred"),
            (1, "sendmail: 421 4.7.0 try again later", "deferred"),
            (75, "postdrop: 554 5.7.1 relay access denied", "failed"),
            // Digits that are not a reply: the exit status decides.
            (78, "cannot connect to port 465: 451 seconds elapsed", "failed"),
            (75, "msmtp: cannot connect to 127.0.0.1, port 1: Connection refused", "deferred"),
            (68, "msmtp: cannot locate host relay.invalid", "deferred"),
            (78, "sendmail: bad configuration", "failed"),
        ]
        for (status, output, expected) in cases {
            let result = SendmailCommand.classify(status: status, output: output)
            let name = switch result { case .sent: "sent"; case .deferred: "deferred"; case .failed: "failed" }
            #expect(name == expected, "\(status) \(output)")
        }
        #expect(try SendmailCommand(parsing: #"msmtp -C "/etc/my msmtp.rc" -t  -oi"#).arguments == ["msmtp", "-C", "/etc/my msmtp.rc", "-t", "-oi"])
        #expect(throws: MailConfigurationError.self) { try SendmailCommand(parsing: "msmtp 'open") }
        #expect(throws: MailConfigurationError.self) { try SendmailCommand(parsing: "   ") }
    }

    @Test("a program that is missing, or exits without reading its input, is an answer, not a crash")
    func brokenPrograms() async throws {
        // Missing: deferred, since another node or the operator's fix may send it.
        let missing = await SendmailCommand(arguments: ["/nonexistent/sendmail", "-t"]).hand(Data("x".utf8))
        #expect(missing == .deferred("sendmail program '/nonexistent/sendmail' not found (install msmtp-mta or another MTA, or set [mail] sendmail)"))
        let big = Data(repeating: UInt8(ascii: "a"), count: 1 << 20)
        let early = await SendmailCommand(arguments: ["/bin/sh", "-c", "echo refused by policy >&2; exit 77"]).hand(big)
        #expect(early == .failed("exit 77: refused by policy"))
        // One that never reads its input nor ends, with a child of its own holding the output
        // open: stopped at the timeout, the whole group, and deferred.
        var hanging = SendmailCommand(arguments: ["/bin/sh", "-c", "sleep 600 & sleep 600"])
        hanging.timeout = 1
        let stopped = await hanging.hand(big)
        guard case .deferred(let note) = stopped else { Issue.record("\(stopped)"); return }
        #expect(note.contains("did not finish within 1 s"), "\(note)")
    }

    @Test("the token never reaches a stored note or the subject: a program that echoes the mail, an address that spells {{link}}")
    func tokenStaysOut() async throws {
        let sending = try Sending()
        // A template with the address in the subject, and an address that looks like a placeholder.
        let template = try MailTemplate.parse("Subject: Sign-in for {{email}}\n\n{{link}}\n", path: "t.txt")
        let test = try TestGatehouse { configuration in
            configuration.mail.delivery = .sendmail
            configuration.mail.template = template
        }
        _ = try await test.gatehouse.magicLinks.requestMagicLink(email: "{{link}}@example.com")
        let stored = try await test.gatehouse.magicLinks.outbox()
        #expect(stored.first?.subject == "Sign-in for {{link}}@example.com", "\(stored.first?.subject ?? "")")
        // The stand-in prints the whole message (as some MTAs do on error) and refuses it.
        let request2 = try await sending.test.gatehouse.magicLinks.requestMagicLink(email: "echo@example.com")
        let echo = JobWorker(gatehouse: sending.test.gatehouse, options: .init(
            concurrency: 1, pollInterval: 0.05, dataDirectory: URL(fileURLWithPath: sending.test.directory.path("documents")),
            sendmail: SendmailCommand(arguments: ["/bin/sh", "-c", "cat >&2; exit 65"])))
        await echo.runUntilIdle()
        let (message, secret) = try await sending.message(request2.outboxId)
        #expect(message.delivery == .failed && secret == nil)
        #expect(message.deliveryNote?.contains("[removed at handover: link \(request2.token.hash.fingerprint)]") == true, "\(message.deliveryNote ?? "")")
        try await Self.expectNowhere(request2.token.value, in: sending.test)
    }

    @Test("a mail job that ends without a handover (cancelled; its lease lost on the last attempt) gives the message up and scrubs it")
    func jobEndsWithoutHandover() async throws {
        let sending = try Sending()
        let cancelled = try await sending.test.gatehouse.magicLinks.requestMagicLink(email: "cancel@example.com")
        let job = try #require(try await sending.test.gatehouse.jobs.list().first)
        _ = try await sending.test.gatehouse.jobs.cancel(id: job.id, by: .system)
        let (afterCancel, secret) = try await sending.message(cancelled.outboxId)
        #expect(afterCancel.delivery == .failed && secret == nil && afterCancel.deliveryNote?.contains("cancelled") == true)
        try await Self.expectNowhere(cancelled.token.value, in: sending.test)

        // A worker claims the last attempt and dies: the lease runs out, the reaper fails the job.
        let lost = try await sending.test.gatehouse.magicLinks.requestMagicLink(email: "lost@example.com")
        try sending.test.rawWrite("UPDATE jobs SET max_attempts = 1 WHERE state = 'queued'")
        let claimed = try #require(try await sending.test.gatehouse.jobs.claim(worker: "dead:1:0", lease: 30))
        #expect(claimed.kind == "mail")
        sending.test.clock.advance(by: 31)
        _ = try await sending.test.gatehouse.jobs.claim(worker: "alive:2:0", lease: 30)
        let (afterLoss, lostSecret) = try await sending.message(lost.outboxId)
        #expect(afterLoss.delivery == .failed && lostSecret == nil, "\(afterLoss)")
        try await Self.expectNowhere(lost.token.value, in: sending.test)
    }

    /// Every text and blob column of every table, searched for `secret`.
    static func expectNowhere(_ secret: String, in test: TestGatehouse) async throws {
        let tables = ["users", "magic_links", "outbox", "sessions", "refresh_tokens", "audit_events", "jobs", "job_outputs"]
        for table in tables {
            let rows = try await test.gatehouse.database.read { tx in try tx.fetchAll("SELECT * FROM \(table)") }
            for row in rows {
                for name in row.columns.names {
                    let text = (try? row.decode(name, as: String?.self)) ?? nil
                    #expect(text?.contains(secret) != true, "\(table).\(name) holds the secret")
                }
            }
        }
    }
}
