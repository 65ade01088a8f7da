import Foundation
import Synchronization

/// Runs document jobs: `concurrency` slots, each claiming a job, running it with a heartbeat
/// that renews the lease, and recording how it ended.
///
/// `stop()` is graceful: no slot claims again, running jobs stop at their next checkpoint and
/// go back to the queue (the attempt does not count), and `run()` returns when all have.
public final class JobWorker: Sendable {
    public struct Options: Sendable {
        public var concurrency: Int
        /// A job whose worker has not renewed its lease for this long is retried elsewhere.
        public var lease: TimeInterval
        /// How often an idle slot looks for work.
        public var pollInterval: TimeInterval
        /// Documents go to `dataDirectory/jobs/<id>/`.
        public var dataDirectory: URL
        /// Names the worker in leases and the audit log: `host:pid` by default.
        public var name: String
        /// What `mail` jobs hand their message to.
        public var sendmail: SendmailCommand

        public init(concurrency: Int = 2, lease: TimeInterval = 30, pollInterval: TimeInterval = 0.5, dataDirectory: URL,
                    name: String = "\(ProcessInfo.processInfo.hostName):\(getpid())", sendmail: SendmailCommand = .standard) {
            self.sendmail = sendmail
            self.concurrency = max(1, concurrency)
            self.lease = max(1, lease)
            self.pollInterval = max(0.01, pollInterval)
            self.dataDirectory = dataDirectory
            self.name = name
        }

        /// `<database>-documents` beside an SQLite file. A PostgreSQL database has no file to sit
        /// beside (and the working directory is no place for documents: whatever folder a
        /// command happened to start in would fill up), so its documents go to
        /// `$XDG_DATA_HOME/gatehouse/documents/<dbname>@<host>:<port>` (`~/.local/share` when
        /// unset). Several nodes need `--data-dir` on storage they share for a document written
        /// by one worker to be served by every node.
        public static func defaultDataDirectory(for database: GatehouseDatabase,
                                                environment: [String: String] = ProcessInfo.processInfo.environment) -> URL {
            switch database.engine {
            case .sqlite(let sqlite):
                return URL(fileURLWithPath: sqlite.path + "-documents")
            case .postgres(let postgres):
                let dataHome = environment["XDG_DATA_HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? NSHomeDirectory() + "/.local/share"
                let location = postgres.location
                // The socket folder's slashes would make folders of their own.
                let name = "\(location.database)@\(location.host.replacingOccurrences(of: "/", with: "_")):\(location.port)"
                return URL(fileURLWithPath: dataHome).appendingPathComponent("gatehouse/documents").appendingPathComponent(name)
            }
        }
    }

    let gatehouse: Gatehouse
    public let options: Options
    private let stopping = Mutex(false)
    /// The jobs this worker's slots are running: a claim never reaps their leases (`JobQueue.claim`).
    private let running = Mutex(Set<Int64>())

    public init(gatehouse: Gatehouse, options: Options) {
        self.gatehouse = gatehouse
        self.options = options
    }

    public func stop() { stopping.withLock { $0 = true } }

    public var isStopping: Bool { stopping.withLock { $0 } }

    /// Runs until `stop()`; returns once every slot has finished or released its job.
    public func run() async {
        await withTaskGroup(of: Void.self) { group in
            for slot in 0..<options.concurrency {
                group.addTask { await self.loop(slot: slot, untilIdle: false) }
            }
        }
    }

    /// Runs jobs until none is ready, then returns (for `worker --until-idle` and tests).
    public func runUntilIdle() async {
        await withTaskGroup(of: Void.self) { group in
            for slot in 0..<options.concurrency {
                group.addTask { await self.loop(slot: slot, untilIdle: true) }
            }
        }
    }

    private func loop(slot: Int, untilIdle: Bool) async {
        let worker = "\(options.name):\(slot)"
        while !isStopping {
            do {
                if let job = try await gatehouse.jobs.claim(worker: worker, lease: options.lease, running: running.withLock { $0 }) {
                    running.withLock { _ = $0.insert(job.id) }
                    await execute(job, worker: worker)
                    running.withLock { _ = $0.remove(job.id) }
                    continue
                }
                if untilIdle { return }
            } catch {
                // The database was busy or briefly unavailable; try again after the poll interval.
            }
            await pause()
        }
    }

    /// Sleeps for the poll interval, waking early when asked to stop.
    private func pause() async {
        let end = ContinuousClock.now + .milliseconds(Int(options.pollInterval * 1000))
        while ContinuousClock.now < end && !isStopping {
            try? await Task.sleep(for: .milliseconds(min(50, Int(options.pollInterval * 1000))))
        }
    }

    private func execute(_ job: Job, worker: String) async {
        let queue = gatehouse.jobs
        let context = JobContext(job: job, directory: options.dataDirectory.appendingPathComponent("jobs/\(job.id)"), queue: queue,
                                 worker: worker, lease: options.lease, stopping: { [self] in isStopping })
        let lease = options.lease
        let heartbeat = Task {
            while !Task.isCancelled {
                try? await Task.sleep(for: .milliseconds(Int(lease * 1000 / 3)))
                if Task.isCancelled { return }
                try? await context.heartbeat()
            }
        }
        defer { heartbeat.cancel() }
        do {
            let result = try await DocumentKinds.run(context, database: gatehouse.database, sendmail: options.sendmail)
            try await queue.complete(id: job.id, worker: worker, outputs: result.outputs, note: result.note)
        } catch let interruption as JobInterruption {
            switch interruption {
            case .cancelled: try? await queue.acknowledgeCancel(id: job.id, worker: worker)
            case .shuttingDown: try? await queue.release(id: job.id, worker: worker)
            case .leaseLost: break // another worker may have it now; its state is not ours to touch
            }
        } catch let failure as PermanentJobFailure {
            _ = try? await queue.fail(id: job.id, worker: worker, error: failure.description, permanent: true)
        } catch {
            _ = try? await queue.fail(id: job.id, worker: worker, error: gatehouse.database.explain(error))
        }
    }
}
