import ArgumentParser
import Foundation
import GatehouseCore

struct ExplainCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "explain",
        abstract: "Why was this user logged out? The verdict with its evidence, then the timeline.",
        discussion: """
            Give one of --session, --cookie, --refresh-token or --user. Cookie and refresh-token values are hashed \
            on input and never printed or stored; only their fingerprints appear. Evidence rows are marked ▶ and \
            numbered as in `gatehouse audit`.
            """)
    @OptionGroup var database: DatabaseArguments
    @OptionGroup var output: OutputOptions
    @Option(parsing: .unconditional, help: ArgumentHelp("A session handle (ses_…).", valueName: "handle")) var session: String?
    // Secret values are base64url and may start with '-': take the next argument whatever it looks like.
    @Option(parsing: .unconditional, help: ArgumentHelp("The value of the session cookie the browser sends; \(SecretInput.help).", valueName: "value"))
    var cookie: String?
    @Option(parsing: .unconditional, help: ArgumentHelp("A refresh token value; \(SecretInput.help).", valueName: "value")) var refreshToken: String?
    @Option(parsing: .unconditional, help: ArgumentHelp("A user's email address: every recent session of theirs and their newest sign-in links (mail delivery included).", valueName: "email")) var user: String?

    func validate() throws {
        let given = [session, cookie, refreshToken, user].compactMap { $0 }
        guard given.count == 1 else { throw ValidationError("give exactly one of --session, --cookie, --refresh-token, --user") }
    }

    func run() async throws {
        let subject: Forensics.Subject = if let session { .session(handle: session) }
            else if let cookie { .cookie(try SecretInput.resolve(cookie, option: "--cookie")!) }
            else if let refreshToken { .refreshToken(try SecretInput.resolve(refreshToken, option: "--refresh-token")!) }
            else { .user(email: user!) }
        let gatehouse = try database.open(readOnly: true)
        let explanation = try await CLIError.wrap(gatehouse) { try await gatehouse.forensics.explain(subject) }
        if output.json { return try printJSON(explanation) }
        for line in ExplanationText.lines(explanation) { say(line.text, oneLine: true) }
    }
}
