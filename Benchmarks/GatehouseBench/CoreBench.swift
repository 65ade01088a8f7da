import ArgumentParser
import Foundation
import GatehouseCore

/// The auth service layer's hot paths, in process, over a fresh database: a SQLite file, or a
/// PostgreSQL database (`--postgres`) reported under its own `group`.
enum CoreBench {
    /// Rate limits raised out of the way: the bench measures the work, not the refusals.
    static func configuration() throws -> GatehouseConfiguration {
        var configuration = GatehouseConfiguration()
        for policy in ["refresh", "refresh-ip", "verify", "magic-link-ip", "magic-link-email"] {
            try configuration.rateLimits.override(policy, rate: "100000000/second")
        }
        return configuration
    }

    static let context = ClientContext(ip: "198.51.100.7", userAgent: "gatehouse-bench")

    /// `CAPIBaseline.rotations` over a family that Gatehouse itself created in a file of its own.
    static func cRotationBaseline(path: String, seconds: Double) async throws -> BenchResult {
        let gatehouse = try Gatehouse.open(path: path, options: .init(createIfMissing: true), configuration: configuration())
        _ = try await login(gatehouse, "baseline@example.com", context)
        try gatehouse.database.close()
        let rate = try CAPIBaseline.rotations(path: path, seconds: seconds)
        return BenchResult(group: "raw SQLite", name: "C API: a refresh rotation's statements", value: rate, unit: "ops/s",
                           note: "one transaction each, no crypto")
    }

    static func run(database path: String, group: String, seconds: Double) async throws -> [BenchResult] {
        let gatehouse = try Gatehouse.open(path: path, options: .init(createIfMissing: true), configuration: configuration())
        let context = context
        var results: [BenchResult] = []

        // Refresh: one family rotated over and over, each token spent once (validation,
        // rotation, audit row and rate-limit check in one transaction, then an ES256 signature).
        var refresh = try await login(gatehouse, "rotate@example.com", context)
        let rotations = try await Measure.rate(seconds: seconds) {
            refresh = try await gatehouse.refreshTokens.refresh(refresh, context: context).refreshToken.value
        }
        results.append(.init(group: group, name: "refresh rotations (1 task)", value: rotations, unit: "ops/s"))

        // The signature alone (ES256 through jwt-kit), to see what the transaction costs apart.
        let signer = try await loginSession(gatehouse, "signer@example.com", context)
        let signatures = try await Measure.rate(seconds: seconds) {
            _ = try await gatehouse.accessTokens.issue(for: signer.session, user: signer.user)
        }
        results.append(.init(group: group, name: "access-token signatures (ES256)", value: signatures, unit: "ops/s"))

        // Several clients at once, as a server has: signing overlaps the single writer.
        var families: [String] = []
        for index in 0..<8 { families.append(try await login(gatehouse, "client\(index)@example.com", context)) }
        let seeds = families
        let concurrent = try await Measure.concurrentRate(tasks: 8, seconds: seconds) { index in
            let token = TokenBox(seeds[index])
            return { token.value = try await gatehouse.refreshTokens.refresh(token.value, context: context).refreshToken.value }
        }
        let batching = gatehouse.database.writeStatistics
        results.append(.init(group: group, name: "refresh rotations (8 tasks)", value: concurrent, unit: "ops/s",
                             note: String(format: "%.1f writes per transaction so far", Double(batching.requests) / Double(max(1, batching.transactions)))))

        var key = 0
        let policy = RateLimitPolicy(name: "bench", limit: 1_000_000, period: 1)
        let checks = try await Measure.rate(seconds: seconds) {
            key = (key + 1) % 1000
            _ = try await gatehouse.rateLimits.check(policy, key: "198.51.100.\(key)")
        }
        results.append(.init(group: group, name: "rate-limit checks", value: checks, unit: "ops/s"))

        var sequence = 0
        let appends = try await Measure.rate(seconds: seconds) {
            sequence += 1
            try await gatehouse.audit.record(AuditEntry(actor: .system, action: "bench.append", targetType: "session",
                                                        targetId: "ses_bench", context: context, details: ["n": String(sequence)]))
        }
        results.append(.init(group: group, name: "audit appends", value: appends, unit: "ops/s"))

        // Magic links: issued beforehand (not timed), then verified one after another.
        var links: [String] = []
        let issueEnd = ContinuousClock.now + .milliseconds(Int(seconds * 1000))
        while ContinuousClock.now < issueEnd || links.count < 200 {
            links.append(try await gatehouse.magicLinks.requestMagicLink(email: "link\(links.count % 500)@example.com", context: context).token.value)
        }
        let verifyStart = ContinuousClock.now
        for link in links { _ = try await gatehouse.magicLinks.verifyMagicLink(token: link, kind: .api, context: context) }
        let verifications = Double(links.count) / (ContinuousClock.now - verifyStart).seconds
        results.append(.init(group: group, name: "magic-link verifications", value: verifications, unit: "ops/s",
                             note: "\(links.count) links"))

        // Jobs: queued beforehand (not timed), then claimed and completed one after another.
        let operatorActor = Actor.operator(.current(via: "bench"))
        let jobCount = max(2000, Int(seconds * 3000))
        for _ in 0..<jobCount {
            _ = try await gatehouse.jobs.enqueue(JobRequest(kind: DocumentKinds.userExport, arguments: ["user": "rotate@example.com"]),
                                                 by: operatorActor)
        }
        var claimedJobs: [Job] = []
        let claimStart = ContinuousClock.now
        while claimedJobs.count < jobCount / 2, let job = try await gatehouse.jobs.claim(worker: "bench", lease: 30) {
            claimedJobs.append(job)
        }
        let claimRate = Double(claimedJobs.count) / (ContinuousClock.now - claimStart).seconds
        results.append(.init(group: group, name: "job claims", value: claimRate, unit: "ops/s", note: "\(claimedJobs.count) jobs"))
        for job in claimedJobs { try await gatehouse.jobs.complete(id: job.id, worker: "bench", outputs: []) }
        let cycleStart = ContinuousClock.now
        var cycled = 0
        while let job = try await gatehouse.jobs.claim(worker: "bench", lease: 30) {
            try await gatehouse.jobs.complete(id: job.id, worker: "bench", outputs: [])
            cycled += 1
        }
        results.append(.init(group: group, name: "job claim + complete", value: Double(cycled) / (ContinuousClock.now - cycleStart).seconds,
                             unit: "ops/s", note: "\(cycled) jobs, two write transactions each"))

        let verifyChain = ContinuousClock.now
        let verification = try await gatehouse.audit.verify()
        let chainRate = Double(verification.checked) / (ContinuousClock.now - verifyChain).seconds
        results.append(.init(group: group, name: "audit chain verification", value: chainRate, unit: "rows/s",
                             note: "\(verification.checked) rows, intact: \(verification.isIntact)"))
        try gatehouse.database.close()
        return results
    }

    static func login(_ gatehouse: Gatehouse, _ email: String, _ context: ClientContext) async throws -> String {
        let login = try await loginSession(gatehouse, email, context)
        guard case .tokens(let pair) = login.credential else { throw BenchError.unexpected("no token pair") }
        return pair.refreshToken.value
    }

    private static func loginSession(_ gatehouse: Gatehouse, _ email: String, _ context: ClientContext) async throws -> Login {
        let link = try await gatehouse.magicLinks.requestMagicLink(email: email, context: context)
        return try await gatehouse.magicLinks.verifyMagicLink(token: link.token.value, kind: .api, context: context)
    }
}

/// A token that one benchmark task replaces after each refresh.
final class TokenBox: @unchecked Sendable {
    var value: String
    init(_ value: String) { self.value = value }
}

enum BenchError: Error, CustomStringConvertible {
    case unexpected(String)
    var description: String {
        switch self { case .unexpected(let what): "benchmark setup failed: \(what)" }
    }
}

/// One hot path alone, for a profiler: `perf record -g gatehouse-bench hot rotation`, `strace -c -f …`.
struct Hot: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "hot", abstract: "Run one hot path alone for a profiler (perf record -g, strace -c -f); prints its rate.")

    enum Path: String, ExpressibleByArgument, CaseIterable {
        case rotation, rotations8 = "rotation-8-tasks", reads, queuedReads = "queued-reads", cRotation = "c-rotation", cReads = "c-reads"
    }

    @Argument(help: "rotation, rotation-8-tasks, reads (database.pointRead), queued-reads (database.read), c-rotation or c-reads.") var path: Path
    @Option(help: "Seconds to run.") var seconds = 10.0

    func run() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("gatehouse-bench-hot-\(getpid())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("hot.sqlite").path
        let rate: Double
        switch path {
        case .cRotation:
            rate = try await CoreBench.cRotationBaseline(path: file, seconds: seconds).value
        case .reads, .queuedReads:
            rate = try await RawSQLiteBench.storageLayerReads(path: RawSQLiteBench.prepare(in: directory, rows: 10_000), rows: 10_000,
                                                              seconds: seconds, queued: path == .queuedReads)
        case .cReads:
            rate = try CAPIBaseline.pointReads(path: RawSQLiteBench.prepare(in: directory, rows: 10_000), rows: 10_000, seconds: seconds)
        case .rotation, .rotations8:
            let gatehouse = try Gatehouse.open(path: file, options: .init(createIfMissing: true), configuration: CoreBench.configuration())
            let context = CoreBench.context
            if path == .rotation {
                var refresh = try await CoreBench.login(gatehouse, "rotate@example.com", context)
                rate = try await Measure.rate(seconds: seconds) {
                    refresh = try await gatehouse.refreshTokens.refresh(refresh, context: context).refreshToken.value
                }
            } else {
                var families: [String] = []
                for index in 0..<8 { families.append(try await CoreBench.login(gatehouse, "client\(index)@example.com", context)) }
                let seeds = families
                rate = try await Measure.concurrentRate(tasks: 8, seconds: seconds) { index in
                    let token = TokenBox(seeds[index])
                    return { token.value = try await gatehouse.refreshTokens.refresh(token.value, context: context).refreshToken.value }
                }
            }
            try gatehouse.database.close()
        }
        print("\(path.rawValue): \(Int(rate)) ops/s")
    }
}
