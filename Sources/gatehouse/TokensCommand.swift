import ArgumentParser
import Foundation
import GatehouseCore
import TerminalKit

struct TokensCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tokens",
        abstract: "List and revoke refresh tokens (shown by fingerprint, never by value).",
        subcommands: [List.self, Revoke.self]
    )

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List refresh tokens, newest first.")
        @OptionGroup var database: DatabaseArguments
        @OptionGroup var output: OutputOptions
        @Option(parsing: .unconditional, help: "Only this session's family.") var session: String?
        @Option(parsing: .unconditional, help: "Only this family (fam_…).") var family: String?
        @Option(parsing: .unconditional, help: "Only this user's tokens.") var user: String?
        @Option(parsing: .unconditional, help: "Only tokens in this state: active, used, revoked, reused.") var state: RefreshToken.State?
        @Option(parsing: .unconditional, help: "At most this many rows.") var limit = 50

        func validate() throws { try require(limit, in: 1...100_000, "--limit") }

        func run() async throws {
            let gatehouse = try database.open(readOnly: true)
            let rows = try await CLIError.wrap(gatehouse) {
                try await gatehouse.refreshTokens.list(.init(sessionHandle: session, family: family, email: user, state: state), limit: limit)
            }
            if output.json { return try printJSON(["refresh_tokens": rows.map(TokenJSON.init)]) }
            TokensCommand.table(rows, now: gatehouse.clock.now()).print(emptyMessage: "no refresh tokens")
        }
    }

    static func table(_ rows: [RefreshTokenSummary], now: Date) -> TextTable {
        var table = TextTable("FINGERPRINT", "FAMILY", "SESSION", "USER", "STATE", "ISSUED", "EXPIRES", "PARENT")
        for row in rows {
            let t = row.token
            table.add(t.fingerprint, t.family, row.sessionHandle, row.email,
                      t.state.rawValue + (t.revokedReason.map { " (\($0))" } ?? ""),
                      TimeText.relative(t.issuedAt, now: now), TimeText.relative(t.expiresAt, now: now),
                      row.parentFingerprint ?? "-")
        }
        return table
    }

    struct Revoke: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Revoke refresh tokens: one token, a family, a session's family, or every session of a user.",
            discussion: """
                --token takes a fingerprint (as `tokens list` shows it) or a leaked token value.
                --family revokes the family's tokens; the session's current access token keeps working
                until it expires. --session and --user revoke the sessions too, which cuts access now.
                """)
        @OptionGroup var database: DatabaseArguments
        @OptionGroup var confirmation: ConfirmationOptions
        @OptionGroup var output: OutputOptions
        // A token value is base64url and may start with '-': take the next argument whatever it looks like.
        @Option(parsing: .unconditional, help: ArgumentHelp("A token's fingerprint, or the token itself; \(SecretInput.help).", valueName: "value"))
        var token: String?
        @Option(parsing: .unconditional, help: "A refresh family (fam_…).") var family: String?
        @Option(parsing: .unconditional, help: "A session handle (ses_…): revokes the session and its family.") var session: String?
        @Option(parsing: .unconditional, help: "A user's email: revokes all their sessions and families.") var user: String?
        @Option(parsing: .unconditional, help: "Why, for the audit log.") var reason = "revoked by operator"

        func validate() throws {
            let given = [token, family, session, user].compactMap { $0 }.count
            if given != 1 { throw ValidationError("give exactly one of --token, --family, --session, --user") }
        }

        func run() async throws {
            let token = try SecretInput.resolve(token, option: "--token")
            let gatehouse = try database.open()
            let actor = currentOperator()
            let result: [String: String] = try await CLIError.wrap(gatehouse) {
                if let token {
                    let found = try await gatehouse.refreshTokens.find(token)
                    try confirmation.confirm("Revoke refresh token \(found.fingerprint) of family \(found.family)?", action: "revoke a token")
                    let done = try await gatehouse.refreshTokens.revoke(tokenOrFingerprint: token, by: actor, reason: reason)
                    return ["token": found.fingerprint, "result": done ? "revoked" : "already inactive (\(found.state.rawValue))"]
                }
                if let family {
                    try confirmation.confirm("Revoke every active token of family \(family)?", action: "revoke a family")
                    let count = try await gatehouse.refreshTokens.revokeFamily(family, by: actor, reason: reason)
                    return ["family": family, "result": "revoked \(count) token(s)"]
                }
                if let session {
                    guard try await gatehouse.sessions.summary(handle: session) != nil else { throw AuthError.notFound("session \(session)") }
                    try confirmation.confirm("Revoke session \(session) and its refresh family?", action: "revoke a session")
                    let done = try await gatehouse.sessions.revoke(handle: session, by: actor, reason: reason)
                    return ["session": session, "result": done ? "revoked" : "already ended"]
                }
                let user = user!
                let active = try await gatehouse.sessions.list(.init(email: user, state: .active), limit: 1000)
                try confirmation.confirm("Revoke all \(active.count) active session(s) of \(user) and their tokens?", action: "revoke a user's sessions")
                let handles = try await gatehouse.sessions.revokeAll(email: user, by: actor, reason: reason)
                return ["user": user, "result": "revoked \(handles.count) session(s)"]
            }
            if output.json { return try printJSON(result) }
            say(result.filter { $0.key != "result" }.map { "\($0.key) \($0.value)" }.joined() + ": " + (result["result"] ?? ""))
        }
    }
}

extension RefreshToken.State: ExpressibleByArgument {}
