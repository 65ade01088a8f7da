import ArgumentParser
import Foundation
import GatehouseCore
import TerminalKit

struct SessionsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sessions",
        abstract: "List, inspect and revoke sessions.",
        subcommands: [List.self, Show.self, Revoke.self]
    )

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List sessions, newest first.")
        @OptionGroup var database: DatabaseArguments
        @OptionGroup var output: OutputOptions
        @Option(parsing: .unconditional, help: "Only this user's sessions.") var user: String?
        @Option(parsing: .unconditional, help: "Only sessions in this state: active, expired, revoked, logged_out.") var state: Session.State?
        @Option(parsing: .unconditional, help: "At most this many rows.") var limit = 50
        @Flag(help: "Print user agents whole instead of cut to 40 columns.") var wide = false

        func validate() throws { try require(limit, in: 1...100_000, "--limit") }

        func run() async throws {
            let gatehouse = try database.open(readOnly: true)
            let rows = try await CLIError.wrap(gatehouse) {
                try await gatehouse.sessions.list(.init(email: user, state: state), limit: limit)
            }
            let now = gatehouse.clock.now()
            if output.json { return try printJSON(["sessions": rows.map { SessionJSON($0, now: now) }]) }
            var table = TextTable("HANDLE", "USER", "KIND", "STATE", "CREATED", "LAST SEEN", "EXPIRES", "IP", "TOKENS", "USER AGENT")
            for row in rows {
                let s = row.session
                let state = s.effectiveState(at: now)
                table.add(s.handle, row.email, s.kind.rawValue, state.rawValue,
                          TimeText.relative(s.createdAt, now: now), TimeText.relative(s.lastSeenAt, now: now),
                          state == .active ? TimeText.relative(s.expiresAt, now: now) : "-",
                          s.ip ?? "-", String(row.familySize), TextTable.clip(s.userAgent ?? "-", to: 40, wide: wide))
            }
            table.print(emptyMessage: "no sessions")
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show one session with its refresh tokens and audit trail.")
        @OptionGroup var database: DatabaseArguments
        @OptionGroup var output: OutputOptions
        @Argument(help: "The session handle (ses_…).") var handle: String

        func run() async throws {
            let gatehouse = try database.open(readOnly: true)
            let (summary, tokens, events) = try await CLIError.wrap(gatehouse) {
                guard let summary = try await gatehouse.sessions.summary(handle: handle) else {
                    throw AuthError.notFound("session \(handle)")
                }
                let tokens = try await gatehouse.refreshTokens.list(.init(sessionHandle: handle), limit: 200)
                let events = try await gatehouse.audit.events(targetType: "session", targetId: handle)
                return (summary, tokens, events)
            }
            let now = gatehouse.clock.now()
            if output.json {
                return try printJSON(SessionDetailJSON(session: SessionJSON(summary, now: now),
                                                       refreshTokens: tokens.map(TokenJSON.init),
                                                       audit: events.map(AuditEventJSON.init)))
            }
            let s = summary.session
            sayFields([
                ("handle", s.handle), ("user", summary.email), ("kind", s.kind.rawValue),
                ("state", s.effectiveState(at: now).rawValue + (s.endReason.map { " (\($0))" } ?? "")),
                ("ended by", s.endedBy ?? "-"), ("created", Self.timestamp(s.createdAt, now: now)),
                ("last seen", Self.timestamp(s.lastSeenAt, now: now)),
                ("idle expiry", Self.timestamp(s.idleExpiresAt, now: now)),
                ("absolute expiry", Self.timestamp(s.absoluteExpiresAt, now: now)),
                ("ip", s.ip ?? "-"), ("user agent", s.userAgent ?? "-"), ("refresh family", s.refreshFamily ?? "-"),
            ])
            say("\nREFRESH TOKENS")
            TokensCommand.table(tokens, now: now).print(emptyMessage: "none")
            say("\nAUDIT TRAIL")
            AuditCommand.table(events).print(emptyMessage: "none")
        }

        static func timestamp(_ date: Date, now: Date) -> String {
            "\(TimeText.timestamp(date)) (\(TimeText.relative(date, now: now)))"
        }
    }

    struct Revoke: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Revoke sessions now: their cookies and refresh tokens stop working at the next request.",
            discussion: """
                Give session handles, or --user EMAIL for every active session of that user.
                --issued-before TIME revokes only sessions created before TIME: with --user after a \
                password change (the devices signed in since stay), with --all after a signing-key \
                compromise (every session of every user; type 'all' to confirm, or --confirm all).
                """)
        @OptionGroup var database: DatabaseArguments
        @OptionGroup var confirmation: ConfirmationOptions
        @OptionGroup var output: OutputOptions
        @Argument(help: "Session handles (ses_…).") var handles: [String] = []
        @Option(parsing: .unconditional, help: "Revoke every active session of this user.") var user: String?
        @Option(parsing: .unconditional, help: ArgumentHelp("Only sessions created before this time (ISO 8601, e.g. 2026-12-01T09:30:00Z).",
                                                            valueName: "time"))
        var issuedBefore: String?
        @Flag(help: "With --issued-before: every user's sessions.") var all = false
        @Option(parsing: .unconditional, help: ArgumentHelp("With --all: the word 'all', typed, for scripts.", valueName: "word"))
        var confirm: String?
        @Option(parsing: .unconditional, help: "Why, for the audit log.") var reason: String?

        func validate() throws {
            if all && issuedBefore == nil { throw ValidationError("--all needs --issued-before TIME") }
            if all && user != nil { throw ValidationError("give --user EMAIL or --all, not both") }
            if issuedBefore != nil {
                if !handles.isEmpty { throw ValidationError("--issued-before takes --user EMAIL or --all, not handles") }
                if user == nil && !all { throw ValidationError("--issued-before needs --user EMAIL or --all") }
                if let issuedBefore {
                    guard let cutoff = Timestamp.parse(issuedBefore) else {
                        throw ValidationError("--issued-before: '\(issuedBefore)' is not an ISO 8601 time")
                    }
                    // A time to come would also take logins made after the confirmation's count.
                    if cutoff > Date() { throw ValidationError("--issued-before: \(issuedBefore) is in the future; give a time up to now") }
                }
            } else if handles.isEmpty == (user == nil) {
                throw ValidationError("give session handles or --user EMAIL (one of the two)")
            }
            if confirm != nil && !all { throw ValidationError("--confirm is for --all; use --yes otherwise") }
        }

        func run() async throws {
            let gatehouse = try database.open()
            let actor = currentOperator()
            if let issuedBefore, let cutoff = Timestamp.parse(issuedBefore) {
                return try await revoke(before: cutoff, gatehouse: gatehouse, actor: actor)
            }
            let reason = reason ?? "revoked by operator"
            var revoked: [String] = []
            try await CLIError.wrap(gatehouse) {
                if let user {
                    let active = try await gatehouse.sessions.list(.init(email: user, state: .active), limit: 1000)
                    guard !active.isEmpty else { throw CLIError.failed("\(user) has no active sessions") }
                    try confirmation.confirm("Revoke all \(active.count) active session(s) of \(user)?", action: "revoke sessions")
                    revoked = try await gatehouse.sessions.revokeAll(email: user, by: actor, reason: reason)
                } else {
                    for handle in handles where try await gatehouse.sessions.summary(handle: handle) == nil {
                        throw AuthError.notFound("session \(handle)")
                    }
                    try confirmation.confirm("Revoke \(handles.joined(separator: ", "))?", action: "revoke sessions")
                    for handle in handles where try await gatehouse.sessions.revoke(handle: handle, by: actor, reason: reason) {
                        revoked.append(handle)
                    }
                }
            }
            if output.json { return try printJSON(["revoked": revoked]) }
            say(revoked.isEmpty ? "nothing to revoke: already ended" : "revoked \(revoked.joined(separator: ", "))", oneLine: true)
        }

        /// `--issued-before`: counts first, so the confirmation names the number.
        private func revoke(before cutoff: Date, gatehouse: Gatehouse, actor: Actor) async throws {
            let time = Timestamp.iso8601(cutoff)
            var revoked = 0
            try await CLIError.wrap(gatehouse) {
                let count = try await gatehouse.sessions.countActive(issuedBefore: cutoff, email: user)
                // Nothing to revoke: nothing asked, nothing audited.
                guard count > 0 else { return }
                if let user {
                    try confirmation.confirm("Revoke \(count) active session(s) of \(user) created before \(time)?", action: "revoke sessions")
                } else {
                    try TypedConfirmation.require(word: "all", given: confirm, action: "revoke every session",
                                                  question: "Revoke \(count) active session(s) of EVERY user created before \(time)? Type 'all' to confirm:")
                }
                revoked = try await gatehouse.sessions.revoke(issuedBefore: cutoff, email: user, by: actor, reason: reason)
            }
            if output.json { return try printJSON(RevokedBeforeJSON(issuedBefore: time, user: user, revoked: revoked)) }
            say(revoked == 0 ? "no active session was created before \(time)" : "revoked \(revoked) session(s) created before \(time)", oneLine: true)
        }
    }
}

extension Session.State: ExpressibleByArgument {}
