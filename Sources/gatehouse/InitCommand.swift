import ArgumentParser
import Foundation
import GatehouseCore

struct InitCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "init",
        abstract: "Create the database (mode 0600) or bring its schema up to date, and make the signing key.")
    @OptionGroup var database: DatabaseArguments
    @OptionGroup var output: OutputOptions

    func run() async throws {
        let existed = FileManager.default.fileExists(atPath: database.path)
        let gatehouse = try database.open(create: true)
        let kid = try await CLIError.wrap(gatehouse) { try await gatehouse.accessTokens.keyID() }
        let pragmas = try gatehouse.database.pragmas()
        if output.json {
            return try printJSON(["path": database.path, "created": existed ? "false" : "true", "signing_key": kid,
                                  "journal_mode": pragmas["journal_mode"] ?? "", "synchronous": pragmas["synchronous"] ?? ""])
        }
        print("\(existed ? "opened" : "created") \(database.path) (journal_mode=\(pragmas["journal_mode"] ?? "?"), signing key \(kid))")
    }
}
