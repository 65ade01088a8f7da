import ArgumentParser
import Foundation
import GatehouseCore

/// Load generators for the multi-process tests; hidden from help.
struct DebugCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "debug",
        abstract: "Load generators used by the multi-process tests.",
        shouldDisplay: false,
        subcommands: [RateLimitHammer.self, LoginChurn.self]
    )

    /// Takes `attempts` requests from one bucket as fast as possible and prints how many passed.
    struct RateLimitHammer: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "rate-limit-hammer")
        @OptionGroup var database: DatabaseArguments
        @Option(parsing: .unconditional) var key = "hammer"
        @Option(parsing: .unconditional) var rate = "50/hour"
        @Option(parsing: .unconditional) var attempts = 100

        func validate() throws { try require(attempts, in: 0...10_000_000, "--attempts") }

        func run() async throws {
            let gatehouse = try database.open()
            let policy = try RateLimitPolicy(name: "hammer", rate: rate)
            var allowed = 0
            for _ in 0..<attempts where try gatehouse.rateLimits.checkNow(policy, key: key).allowed {
                allowed += 1
            }
            say(String(allowed))
        }
    }

    /// Logs in `count` times (magic link → verify → refresh) and prints the session handles.
    struct LoginChurn: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "login-churn")
        @OptionGroup var database: DatabaseArguments
        @Option(parsing: .unconditional) var count = 50
        @Option(parsing: .unconditional) var email = "churn@example.com"

        func validate() throws { try require(count, in: 0...10_000_000, "--count") }

        func run() async throws {
            var configuration = GatehouseConfiguration()
            configuration.rateLimits.magicLinkEmail = RateLimitPolicy(name: "magic-link-email", limit: 1_000_000, period: 60)
            configuration.rateLimits.magicLinkIP = RateLimitPolicy(name: "magic-link-ip", limit: 1_000_000, period: 60)
            configuration.rateLimits.verify = RateLimitPolicy(name: "verify", limit: 1_000_000, period: 60)
            configuration.rateLimits.refresh = RateLimitPolicy(name: "refresh", limit: 1_000_000, period: 60)
            configuration.rateLimits.refreshPerAddress = RateLimitPolicy(name: "refresh-ip", limit: 1_000_000, period: 60)
            let gatehouse = try Gatehouse.open(path: database.path, configuration: configuration)
            let context = ClientContext(ip: "127.0.0.\(getpid() % 250 + 1)", userAgent: "login-churn")
            for _ in 0..<count {
                let link = try await gatehouse.magicLinks.requestMagicLink(email: email, context: context)
                let login = try await gatehouse.magicLinks.verifyMagicLink(token: link.token.value, kind: .api, context: context)
                guard case .tokens(let pair) = login.credential else { throw CLIError.failed("expected tokens") }
                _ = try await gatehouse.refreshTokens.refresh(pair.refreshToken.value, context: context)
                say(login.session.handle)
            }
        }
    }
}
