import Foundation
import GatehouseCore
import ServiceLifecycle

/// Runs `action` at once and then every `interval` until cancelled. A failure is reported and
/// tried again at the next tick: housekeeping (checkpoints, retention) must never stop the
/// service it runs in.
public struct PeriodicTask: Sendable {
    let interval: TimeInterval
    let action: @Sendable () async throws -> Void
    let report: @Sendable (String) -> Void

    public init(every interval: TimeInterval, report: @escaping @Sendable (String) -> Void, _ action: @escaping @Sendable () async throws -> Void) {
        self.interval = interval
        self.action = action
        self.report = report
    }

    public func run() async {
        while !Task.isCancelled {
            do {
                try await action()
            } catch {
                report("\(error)")
            }
            try? await Task.sleep(for: .seconds(interval))
        }
    }

    /// Signed audit checkpoints, while rows come: none when the head has not moved since the
    /// last (its own row aside).
    public static func checkpoints(_ gatehouse: Gatehouse, _ settings: CheckpointSettings, report: @escaping @Sendable (String) -> Void) -> PeriodicTask? {
        guard let keyPath = settings.key, let directory = settings.directory else { return nil }
        return PeriodicTask(every: settings.interval, report: { report("audit checkpoint failed: \($0)") }) {
            let newest = try await gatehouse.audit.newestCheckpoint()
            guard let head = try await gatehouse.audit.tail(limit: 1).last?.seq, head > (newest.map { $0.seq + 1 } ?? 0) else { return }
            _ = try await gatehouse.audit.checkpoint(key: try CheckpointKey.load(path: keyPath), file: CheckpointFile(directory: directory),
                                                     by: .system)
        }
    }

    /// The `retention` job, queued (one at a time) for whichever worker claims it; an audit
    /// archive's cut is signed with the `[audit]` checkpoint key when there is one.
    public static func retention(_ gatehouse: Gatehouse, _ settings: RetentionSettings, checkpoints: CheckpointSettings,
                                 report: @escaping @Sendable (String) -> Void) -> PeriodicTask? {
        guard let interval = settings.interval else { return nil }
        var policy = settings.policy
        policy.checkpointKey = checkpoints.key
        policy.checkpointDirectory = checkpoints.directory
        return PeriodicTask(every: interval, report: { report("retention: could not queue the job: \($0)") }) { [policy] in
            _ = try await gatehouse.jobs.enqueueRetention(policy)
        }
    }
}

/// A `PeriodicTask` as a service of the server's group: it ends with the server.
struct PeriodicService: Service {
    let task: PeriodicTask

    func run() async throws {
        await cancelWhenGracefulShutdown { await task.run() }
    }
}
