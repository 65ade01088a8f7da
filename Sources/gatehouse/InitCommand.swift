import ArgumentParser
import Foundation
import GatehouseCore

struct InitCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "init",
        abstract: "Create the database (mode 0600) or bring its schema up to date, and make the signing key (in the database, or with --signing-keys in a file of its own).",
        discussion: """
            Bringing the schema up to date normalises stored email addresses (Unicode NFC, case folding, the domain \
            mapped as UTS #46). Two users that become one address are never merged: init lists them at every run, \
            with what to do.
            """)
    @OptionGroup var database: DatabaseArguments
    @OptionGroup var output: OutputOptions
    @OptionGroup var keyFile: KeysCommand.KeyFileOrConfig

    func run() async throws {
        let gatehouse = try database.open(create: true, signingKeys: keyFile.path())
        let existed = !gatehouse.database.created
        let (kid, conflicts) = try await CLIError.wrap(gatehouse) {
            (try await gatehouse.accessTokens.keyID(), try await gatehouse.emailConflicts())
        }
        let pragmas = try gatehouse.database.pragmas()
        if output.json {
            return try printJSON(InitJSON(path: gatehouse.database.path, created: !existed, signing_key: kid,
                                          journal_mode: pragmas["journal_mode"] ?? "", synchronous: pragmas["synchronous"] ?? "",
                                          email_conflicts: conflicts.map(EmailConflictJSON.init)))
        }
        say("\(existed ? "opened" : "created") \(gatehouse.database.path) (\(gatehouse.database.engineSummary()), signing key \(kid))")
        for note in gatehouse.database.openingNotes { say(note) }
        if let file = gatehouse.configuration.signingKeyFile,
           let current = try await gatehouse.signingKeys.list().first(where: { $0.state == .current }), current.storage == .database {
            say("note: the current signing key \(current.kid) stays in the database; `gatehouse keys rotate --signing-keys \(file.path)` makes a new one in the file")
        }
        if !conflicts.isEmpty { sayError(Self.report(conflicts)) }
    }

    /// What an operator reads about the users the migration left apart: who, which spelling,
    /// what is left on the account logins no longer reach, and the command that deals with it.
    static func report(_ conflicts: [EmailConflict]) -> String {
        var text = "\(conflicts.count) user(s) kept their stored address when addresses were normalised; nothing was merged:\n"
        for conflict in conflicts {
            text += "  user \(conflict.userId), stored as \(spelled(conflict.storedEmail)), "
            if let normalized = conflict.normalizedEmail {
                text += "is \(normalized) like user \(conflict.keptUserId.map(String.init) ?? "?")"
            } else {
                text += "is no longer a valid address (\(conflict.problem ?? "refused"))"
            }
            text += " (\(conflict.activeSessionCount) active session(s), \(conflict.credits) credits)\n"
        }
        text += """
            Logins reach the user that has the normalised address; the users above can no longer log in, but their active \
            sessions keep working until they end. Commands given the stored address exactly as printed here (copy it) act on \
            that user; to end its sessions now:

            """
        for conflict in conflicts where conflict.activeSessionCount > 0 {
            text += "    gatehouse sessions revoke --user '\(conflict.storedEmail.replacingOccurrences(of: "'", with: "'\\''"))' --yes\n"
        }
        if conflicts.allSatisfy({ $0.activeSessionCount == 0 }) { text += "    (nothing: none of them has an active session)\n" }
        if conflicts.contains(where: { $0.credits != 0 }) {
            text += "Credits stay on the user that has them; move them by hand if they belong to the other account.\n"
        }
        return String(text.dropLast())  // sayError ends the line
    }

    /// The address with every non-ASCII scalar spelled out, so that two spellings that look alike can be told apart.
    static func spelled(_ email: String) -> String {
        email.unicodeScalars.map { $0.isASCII ? String($0) : "\\u{\(String($0.value, radix: 16, uppercase: true))}" }.joined()
    }
}
