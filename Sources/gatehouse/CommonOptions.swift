import ArgumentParser
import Foundation
import GatehouseCore
import TerminalKit

/// `--db PATH_OR_URL`, shared by every command: an SQLite file, or a PostgreSQL database.
struct DatabaseArguments: ParsableArguments {
    @Option(name: .long, parsing: .unconditional, help: ArgumentHelp("The SQLite file, or a postgres:// URL (libpq's form; the password may come from PGPASSWORD). Default: $GATEHOUSE_DB, else ./gatehouse.sqlite.", valueName: "path-or-url"))
    var db: String?

    var path: String { path(configured: nil) }

    /// `--db`, else $GATEHOUSE_DB, else what a config file says, else ./gatehouse.sqlite.
    func path(configured: String?) -> String {
        db ?? ProcessInfo.processInfo.environment["GATEHOUSE_DB"].flatMap { $0.isEmpty ? nil : $0 } ?? configured ?? "gatehouse.sqlite"
    }

    /// Opens an existing database; only `init` creates one. `signingKeys`: the signing-key
    /// file, when private keys live outside the database (default $GATEHOUSE_SIGNING_KEYS).
    func open(readOnly: Bool = false, create: Bool = false, configured: String? = nil, signingKeys: String? = nil,
              options: DatabaseOptions? = nil) throws -> Gatehouse {
        var configuration = GatehouseConfiguration()
        configuration.signingKeyFile = Self.signingKeyFile(signingKeys)
        return try Gatehouse.open(path: path(configured: configured), options: options ?? DatabaseOptions(readOnly: readOnly, createIfMissing: create),
                                  configuration: configuration)
    }

    /// `given`, else $GATEHOUSE_SIGNING_KEYS, else none.
    static func signingKeyFile(_ given: String?) -> SigningKeyFile? {
        (given ?? ProcessInfo.processInfo.environment["GATEHOUSE_SIGNING_KEYS"].flatMap { $0.isEmpty ? nil : $0 }).map(SigningKeyFile.init(path:))
    }
}

/// Numeric options take negative numbers (`--priority -5`, parsed unconditionally) and are then
/// held to their range here, with the option's name in the message (exit 2).
func require<Number: Comparable>(_ value: Number, in range: ClosedRange<Number>, _ option: String, _ unit: String = "") throws {
    guard range.contains(value) else {
        throw ValidationError("\(option) must be between \(range.lowerBound) and \(range.upperBound)\(unit); got \(value)")
    }
}

/// `--json`, shared by every listing.
struct OutputOptions: ParsableArguments {
    @Flag(name: .long, help: "Print one JSON document with stable field names instead of a table.")
    var json = false
}

/// `--yes`, shared by every destructive command.
struct ConfirmationOptions: ParsableArguments {
    @Flag(name: [.long, .customShort("y")], help: "Do not ask; required when standard input is not a terminal.")
    var yes = false

    /// Asks `question` on the terminal unless `--yes` was given. Without a terminal and without
    /// `--yes`, refuses: a script must say what it means.
    func confirm(_ question: String, action: String) throws {
        if yes { return }
        guard isatty(STDIN_FILENO) == 1 else { throw CLIError.refusedWithoutTerminal(action) }
        FileHandle.standardError.write(Data("\(TerminalText.neutralised(question)) [y/N] ".utf8))
        guard let answer = readLine()?.trimmingCharacters(in: .whitespaces).lowercased(),
              answer == "y" || answer == "yes" else { throw CLIError.cancelled }
    }
}

/// The person running this command, for the audit log.
func currentOperator() -> Actor {
    .operator(OperatorIdentity.current(via: "cli"))
}

/// A confirmation the operator types word for word (the key id, "all"): for actions that
/// cannot be undone and whose blast radius is large. Scripts pass the word with an option.
enum TypedConfirmation {
    static func require(word: String, given: String?, action: String, question: String) throws {
        if let given {
            guard given == word else { throw CLIError.usage("the confirmation '\(given)' does not match '\(word)'; nothing was changed") }
            return
        }
        guard isatty(STDIN_FILENO) == 1 else {
            throw CLIError.usage("refusing to \(action) without confirmation: standard input is not a terminal; pass --confirm \(word)")
        }
        FileHandle.standardError.write(Data("\(TerminalText.neutralised(question)) ".utf8))
        guard readLine()?.trimmingCharacters(in: .whitespaces) == word else { throw CLIError.cancelled }
    }
}
