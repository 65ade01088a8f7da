import ArgumentParser
import Foundation
import GatehouseCore
import GatehouseServer
import TerminalKit

/// `gatehouse keys`: the JWT signing keys, their rotation and their retirement.
struct KeysCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "keys",
        abstract: "List, rotate and retire the JWT signing keys (the JWKS).",
        discussion: """
            rotate makes a new key current; the previous one keeps verifying, and stays in the JWKS, until every \
            token it signed has expired. retire removes a key at once: the compromise case. Serving processes \
            notice either within two seconds. Private keys live in the database, or in a signing-key file \
            (--signing-keys FILE, $GATEHOUSE_SIGNING_KEYS) so that a copy of the database does not carry them.
            """,
        subcommands: [List.self, Rotate.self, Retire.self], defaultSubcommand: List.self)

    struct KeyFileOption: ParsableArguments {
        @Option(name: .customLong("signing-keys"), parsing: .unconditional,
                help: ArgumentHelp("The signing-key file, when private keys live outside the database (default $GATEHOUSE_SIGNING_KEYS).", valueName: "file"))
        var path: String?
    }

    /// `--signing-keys` and `--config` (its `[keys] file`) for commands other than serve.
    struct KeyFileOrConfig: ParsableArguments {
        @OptionGroup var keyFile: KeyFileOption
        @Option(parsing: .unconditional, help: ArgumentHelp("serve's config file: its [keys] file names the signing-key file.", valueName: "file"))
        var config: String?

        /// --signing-keys, else the config's [keys] file, else nil ($GATEHOUSE_SIGNING_KEYS is read on opening).
        func path() throws -> String? {
            try keyFile.path ?? config.flatMap { try ServerConfigFile.load(path: $0).signingKeyFile }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "list", abstract: "Every signing key, newest first, with its state.")
        @OptionGroup var database: DatabaseArguments
        @OptionGroup var output: OutputOptions

        func run() async throws {
            let gatehouse = try database.open(readOnly: true)
            let keys = try await CLIError.wrap(gatehouse) { try await gatehouse.signingKeys.list() }
            if output.json { return try printJSON(["signing_keys": keys]) }
            let now = gatehouse.clock.now()
            var table = TextTable("KID", "ALG", "STATE", "PRIVATE KEY", "CREATED", "ROTATED OUT", "IN JWKS UNTIL", "RETIRED")
            for key in keys {
                let until: String = switch key.state {
                case .current: "-"
                case .published, .expired: key.publishedUntil.map { TimeText.relative($0, now: now) } ?? "-"
                case .retired: "removed"
                }
                table.add(key.kid, key.algorithm, key.state.rawValue, key.storage.rawValue.replacingOccurrences(of: "_", with: " "),
                          TimeText.relative(key.createdAt, now: now), key.supersededAt.map { TimeText.relative($0, now: now) } ?? "-",
                          until, key.retiredAt.map { TimeText.relative($0, now: now) } ?? "-")
            }
            table.print(emptyMessage: "no signing key yet (serve or init makes the first)")
        }
    }

    struct Rotate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "rotate",
            abstract: "Make a new key current; the previous one stays in the JWKS until its tokens have expired.")
        @OptionGroup var database: DatabaseArguments
        @OptionGroup var keyFile: KeyFileOrConfig
        @OptionGroup var confirmation: ConfirmationOptions
        @OptionGroup var output: OutputOptions

        func run() async throws {
            let gatehouse = try database.open(signingKeys: keyFile.path())
            try confirmation.confirm("Make a new signing key current? The current one keeps verifying until its tokens expire.",
                                     action: "rotate the signing key")
            let (previous, current) = try await CLIError.wrap(gatehouse) { try await gatehouse.signingKeys.rotate(by: currentOperator()) }
            if output.json { return try printJSON(["previous": previous, "current": current]) }
            say("signing key \(current.kid) is current" + (previous.map { p in
                "; \(p.kid) stays in the JWKS until \(p.publishedUntil.map(Timestamp.iso8601) ?? "?")" } ?? ""))
        }
    }

    struct Retire: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "retire",
            abstract: "Remove a key at once: every token it signed is refused (a compromised key).",
            discussion: """
                Asks you to type the key id. Retiring the current key makes a new one current in the same step. \
                Resource servers that cache the JWKS stop accepting the key when their copy expires (max-age 300 s).
                """)
        @OptionGroup var database: DatabaseArguments
        @OptionGroup var keyFile: KeyFileOrConfig
        @OptionGroup var output: OutputOptions
        @Argument(help: "The key's id (as `keys list` shows it). One that begins with '-' (made before 2026-12) goes after --: keys retire -- -Xy…")
        var kid: String
        @Option(parsing: .unconditional, help: ArgumentHelp("For scripts: the key id again, in place of typing it.", valueName: "kid"))
        var confirm: String?
        @Option(parsing: .unconditional, help: "Why, for the audit log.") var reason = "retired by operator"

        func run() async throws {
            let gatehouse = try database.open(signingKeys: keyFile.path())
            let keys = try await CLIError.wrap(gatehouse) { try await gatehouse.signingKeys.list() }
            guard let key = keys.first(where: { $0.kid == kid }) else { throw CLIError.failed("signing key \(kid) not found (gatehouse keys list)") }
            try TypedConfirmation.require(
                word: kid, given: confirm, action: "retire a signing key",
                question: "Retire \(key.state.rawValue) key \(kid)? Every token it signed is refused at once. Type the key id to confirm:")
            let (retired, replacement) = try await CLIError.wrap(gatehouse) {
                try await gatehouse.signingKeys.retire(kid: kid, by: currentOperator(), reason: reason)
            }
            if output.json { return try printJSON(["retired": retired, "replacement": replacement]) }
            say("signing key \(retired.kid) retired" + (replacement.map { "; \($0.kid) is current" } ?? ""))
        }
    }
}
