import ArgumentParser
import Foundation
import GatehouseCore
import TerminalKit

struct LimitsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "limits",
        abstract: "Inspect and reset rate-limit buckets.",
        subcommands: [List.self, Reset.self]
    )

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List buckets, most blocked first.")
        @OptionGroup var database: DatabaseArguments
        @OptionGroup var output: OutputOptions
        @Option(parsing: .unconditional, help: "Order: blocked, recent or key.") var sort: RateLimitBucketOrder = .blocked
        @Option(parsing: .unconditional, help: "Only buckets of this policy (refresh, verify, magic-link-email, magic-link-ip, …).") var policy: String?
        @Option(parsing: .unconditional, help: "At most this many rows.") var limit = 50

        func validate() throws { try require(limit, in: 1...100_000, "--limit") }

        func run() async throws {
            let gatehouse = try database.open(readOnly: true)
            let buckets = try await CLIError.wrap(gatehouse) { try await gatehouse.rateLimits.buckets(orderedBy: sort, policy: policy, limit: limit) }
            let now = gatehouse.clock.now()
            if output.json { return try printJSON(["buckets": buckets.map { BucketJSON($0, now: now) }]) }
            var table = TextTable("KEY", "RATE", "REMAINING", "ALLOWED", "BLOCKED", "LAST BLOCKED", "FULL")
            for bucket in buckets {
                let rate = RateLimitPolicy(name: bucket.policy, limit: bucket.limit, period: bucket.period).rateDescription
                table.add(bucket.key, rate, "\(bucket.remaining(at: now))/\(bucket.limit)", String(bucket.allowedTotal),
                          String(bucket.blockedTotal), TimeText.relative(bucket.lastBlockedAt, now: now),
                          bucket.tat <= now ? "now" : TimeText.relative(bucket.tat, now: now))
            }
            table.print(emptyMessage: "no rate-limit buckets")
        }
    }

    struct Reset: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Empty a bucket so its client may go again at once.")
        @OptionGroup var database: DatabaseArguments
        @OptionGroup var confirmation: ConfirmationOptions
        @Argument(help: "The bucket key as `limits list` shows it, e.g. refresh:fam_46snvfr9xu45 or refresh-ip:203.0.113.9.") var key: String

        func run() async throws {
            let gatehouse = try database.open()
            try await CLIError.wrap(gatehouse) {
                guard try await gatehouse.rateLimits.bucket(key: key) != nil else { throw AuthError.notFound("rate-limit bucket \(key)") }
                try confirmation.confirm("Reset rate-limit bucket \(key)?", action: "reset a bucket")
                try await gatehouse.rateLimits.reset(key: key, by: currentOperator())
            }
            say("reset \(key)", oneLine: true)
        }
    }
}

extension RateLimitBucketOrder: ExpressibleByArgument {}
