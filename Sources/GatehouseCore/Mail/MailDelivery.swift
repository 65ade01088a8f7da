import Foundation

/// The `mail` job: hands one outbox message to sendmail and records how it went, on the
/// message and in the audit log.
///
/// - A message is tried at most `maxAttempts` times, with the job queue's backoff between
///   (about six minutes in all): a link lives 15 minutes, so a mail that cannot go out by then
///   is of no use, and a link that expired before its handover is not sent at all.
/// - At handover, or when the message is given up on, the body's copy of the link's token is
///   replaced by the link's fingerprint and `link_secret` cleared: from then on nothing in the
///   database can sign anyone in.
/// - Delivery is at least once: a worker killed between sendmail's answer and the record
///   leaves the job to be retried, and the user may get the mail twice.
public enum MailDelivery {
    public static let kind = "mail"
    static let maxAttempts = 5

    /// Queues `message` for delivery inside the transaction that stored it.
    static func enqueue(message id: Int64, for user: User, context: ClientContext, in tx: any SQLTransaction, at now: Date) throws {
        _ = try JobQueue.insert(JobRequest(kind: kind, arguments: ["message": String(id)], priority: 10, uniqueKey: "mail:\(id)",
                                           maxAttempts: maxAttempts),
                                by: .user(id: user.id), context: context, in: tx, at: now)
    }

    /// Runs the job. Returns the job's closing note; throws to retry (deferred) or
    /// `PermanentJobFailure` when the message was given up on.
    static func run(_ context: JobContext, database: GatehouseDatabase, sendmail: SendmailCommand) async throws -> String {
        guard let id = context.job.arguments["message"].flatMap({ Int64($0) }) else {
            throw PermanentJobFailure("mail job without a message id")
        }
        let clock = context.queue.clock
        guard let pending = try await database.read({ tx in try Pending.load(id, in: tx) }) else {
            throw PermanentJobFailure("outbox message \(id) no longer exists")
        }
        switch pending.message.delivery {
        case .queued, .deferred: break
        case .sent, .stored: return "already \(pending.message.delivery.rawValue)"
        case .failed:
            // A retried job of a message given up on: its link was removed, nothing can be sent.
            throw PermanentJobFailure("message \(id) was given up on and its link removed; the user must request a new link")
        }
        if let expiresAt = pending.linkExpiresAt, clock.now() >= expiresAt {
            _ = try await record(pending, .failed("the link expired before the mail could be handed over"), database: database, at: clock.now())
            throw PermanentJobFailure("the link expired before the mail could be handed over")
        }
        try context.checkpoint()
        var result = await sendmail.hand(MailMessage.render(pending.message))
        if case .deferred(let note) = result, context.job.attempts >= context.job.maxAttempts {
            result = .failed("gave up after \(context.job.attempts) attempts; last: \(note)")
        }
        // The program's words, as stored: the link's token (should it echo the message) is gone.
        let note = try await record(pending, result, database: database, at: clock.now())
        switch result {
        case .sent: return "sent"
        case .deferred: throw MailDeferred(description: note)
        case .failed: throw PermanentJobFailure(note)
        }
    }

    /// A message with what its delivery needs beside the row.
    struct Pending {
        var message: OutboxMessage
        var linkSecret: String?
        var linkExpiresAt: Date?

        static func load(_ id: Int64, in tx: any SQLTransaction) throws -> Pending? {
            guard let row = try tx.fetchOne("""
                SELECT o.*, m.expires_at AS link_expires_at FROM outbox o LEFT JOIN magic_links m ON m.id = o.magic_link_id
                WHERE o.id = ?
                """, [id]) else { return nil }
            return try Pending(message: OutboxMessage(row: row), linkSecret: row.decode("link_secret"),
                               linkExpiresAt: row.decode("link_expires_at"))
        }
    }

    /// Writes the outcome on the message (scrubbing the link when it is final) and audits it;
    /// returns the note as stored. Nothing is written once the message is no longer waiting (a
    /// run that lost its lease and finished late must not undo what the other run recorded).
    @discardableResult
    static func record(_ pending: Pending, _ result: SendmailCommand.Result, database: GatehouseDatabase, at now: Date) async throws -> String {
        let (delivery, words): (OutboxMessage.Delivery, String) = switch result {
        case .sent(let note): (.sent, note)
        case .deferred(let note): (.deferred, note)
        case .failed(let note): (.failed, note)
        }
        let note = scrubbed(words, secret: pending.linkSecret)
        try await database.write { tx in
            try settle(pending.message.id, as: delivery, note: note, countsAttempt: true, in: tx, at: now)
        }
        return note
    }

    /// The message's mail job ended without a run recording it (its lease ran out on the last
    /// attempt, an operator cancelled it): the message is given up on and its link scrubbed,
    /// in the job's own transaction.
    static func abandon(job: Job, reason: String, in tx: any SQLTransaction, at now: Date) throws {
        guard job.kind == kind, let id = job.arguments["message"].flatMap({ Int64($0) }) else { return }
        try settle(id, as: .failed, note: "the mail job ended without a handover: \(reason)", countsAttempt: false, in: tx, at: now)
    }

    /// Moves a waiting message to `delivery` (read and written in one transaction): on a final
    /// state the token in its subject, body and note becomes the link's fingerprint and
    /// `link_secret` is cleared. A message no longer waiting is left as it is.
    private static func settle(_ id: Int64, as delivery: OutboxMessage.Delivery, note: String, countsAttempt: Bool,
                               in tx: any SQLTransaction, at now: Date) throws {
        guard let pending = try Pending.load(id, in: tx),
              pending.message.delivery == .queued || pending.message.delivery == .deferred else { return }
        let message = pending.message
        let final = delivery != .deferred
        let secret = final ? pending.linkSecret : nil
        let note = scrubbed(note, secret: pending.linkSecret)
        try tx.execute("""
            UPDATE outbox SET delivery = ?, attempts = attempts + ?, delivery_note = ?, delivery_updated_at = ?, subject = ?, body = ?,
                              link_secret = CASE WHEN ? = 1 THEN NULL ELSE link_secret END
            WHERE id = ? AND delivery IN ('queued', 'deferred')
            """, [delivery.rawValue, countsAttempt ? 1 : 0, note, now.unixSeconds,
                  scrubbed(message.subject, secret: secret), scrubbed(message.body, secret: secret), final ? 1 : 0, id])
        var details = ["message": String(id), "attempt": String(message.attempts + (countsAttempt ? 1 : 0))]
        if let secret = pending.linkSecret { details["link"] = SecretToken(value: secret).hash.fingerprint }
        try AuditLog.append(AuditEntry(
            actor: .system, action: "mail.\(delivery.rawValue)", targetType: "user", targetId: message.recipient,
            outcome: delivery == .sent ? .success : .failure, reason: note, details: details), in: tx, at: now)
    }

    /// `text` with every copy of `secret` replaced by the link's fingerprint.
    static func scrubbed(_ text: String, secret: String?) -> String {
        guard let secret, !secret.isEmpty else { return text }
        return text.replacingOccurrences(of: secret, with: "[removed at handover: link \(SecretToken(value: secret).hash.fingerprint)]")
    }
}

/// A temporary delivery failure: the job is retried after the queue's backoff.
struct MailDeferred: Error, CustomStringConvertible {
    var description: String
}

/// A stored message as the RFC 5322 text sendmail reads (`-t`: recipients from `To:`).
enum MailMessage {
    static func render(_ message: OutboxMessage, host: String = ProcessInfo.processInfo.hostName) -> Data {
        var headers: [String] = []
        if let sender = message.sender { headers.append("From: \(sender)") }
        headers += [
            "To: \(message.recipient)",
            "Subject: \(encodedWord(message.subject))",
            "Date: \(rfc5322Date(message.createdAt))",
            "Message-ID: <gatehouse.\(message.id).\(Handle.make("m_"))@\(host.isEmpty ? "localhost" : host)>",
            "MIME-Version: 1.0",
            "Content-Type: text/plain; charset=utf-8",
            "Content-Transfer-Encoding: 8bit",
            // RFC 3834: no out-of-office replies to a machine's mail.
            "Auto-Submitted: auto-generated",
        ]
        return Data((headers.joined(separator: "\n") + "\n\n" + message.body + "\n").utf8)
    }

    /// RFC 2047 B-encoding for a subject that is not plain ASCII: encoded words of at most 45
    /// bytes of text each (72 characters, under the RFC's 75), on folded lines.
    static func encodedWord(_ text: String) -> String {
        guard !text.unicodeScalars.allSatisfy({ $0.isASCII && $0.value >= 0x20 }) else { return text }
        var words: [String] = []
        var chunk = ""
        for character in text {
            if chunk.utf8.count + String(character).utf8.count > 45 {
                words.append(chunk)
                chunk = ""
            }
            chunk.append(character)
        }
        if !chunk.isEmpty { words.append(chunk) }
        return words.map { "=?utf-8?B?\(Data($0.utf8).base64EncodedString())?=" }.joined(separator: "\n ")
    }

    static func rfc5322Date(_ date: Date) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss '+0000'"
        return formatter.string(from: date)
    }
}
