import Foundation
import GRDB
import Logging
import PostgresNIO
import Synchronization

/// Tells whether any process committed a change since the last question. The console asks on
/// every tick and re-queries only when something changed.
///
/// SQLite: `PRAGMA data_version` on a connection of its own (the value is per connection, so a
/// pool's rotating readers cannot answer it). PostgreSQL: `LISTEN gatehouse_changes` on a
/// connection of its own; every write transaction notifies that channel at its commit (by
/// trigger, `PostgresSchema`), so a change from any node is known as soon as it arrives.
public final class ChangeDetector: Sendable {
    private enum Source: Sendable {
        case dataVersion(DatabaseQueue, last: LastVersion)
        case notifications(PostgresListener)
    }

    private final class LastVersion: Sendable {
        let value = Mutex<Int?>(nil)
    }

    private let source: Source

    public init(database: GatehouseDatabase) throws {
        switch database.engine {
        case .sqlite(let sqlite):
            var configuration = Configuration()
            configuration.readonly = true
            configuration.busyMode = .timeout(1)
            source = .dataVersion(try DatabaseQueue(path: sqlite.path, configuration: configuration), last: LastVersion())
        case .postgres(let postgres):
            source = .notifications(PostgresListener(location: postgres.location, channel: PostgresSchema.changesChannel))
        }
    }

    /// True when `hasChanged` costs no I/O (PostgreSQL: a flag that the LISTEN connection
    /// sets), so the console can ask on every turn of its loop instead of once per refresh
    /// interval, and a change is on screen a read and a frame after its commit.
    public var answersWithoutIO: Bool {
        if case .notifications = source { true } else { false }
    }

    /// True on the first call and whenever any other connection (another process, or this
    /// process's own pool) committed since the previous call.
    public func hasChanged() throws -> Bool {
        switch source {
        case .dataVersion(let queue, let last):
            let version = try queue.read { db in try Int.fetchOne(db, sql: "PRAGMA data_version") ?? 0 }
            return last.value.withLock { previous in
                defer { previous = version }
                return previous != version
            }
        case .notifications(let listener):
            return try listener.takeChanged()
        }
    }
}

/// One connection that LISTENs on a channel and counts what arrives; reconnects (with a pause)
/// when the server goes away, and reports a change after each reconnect, since notifications
/// sent meanwhile were lost.
final class PostgresListener: Sendable {
    private struct State {
        var pending = true
        var problem: String?
    }

    private final class Shared: Sendable {
        let state = Mutex(State())
    }

    private let shared = Shared()
    private let task = Mutex<Task<Void, Never>?>(nil)

    init(location: PostgresLocation, channel: String) {
        let logger = Logger(label: "gatehouse.postgres.listen")
        let started = Task { [shared] in
            while !Task.isCancelled {
                do {
                    let connection = try await PostgresConnection.connect(configuration: try PostgresServer.configuration(location),
                                                                          id: 1, logger: logger)
                    do {
                        // UNLISTEN is sent when `consume` returns or throws.
                        try await connection.listen(on: channel) { notifications in
                            shared.state.withLock { $0.pending = true; $0.problem = nil }
                            for try await _ in notifications {
                                shared.state.withLock { $0.pending = true }
                            }
                        }
                    } catch {
                        // Closed on every path: a connection must not outlive its use open.
                        try? await connection.close()
                        throw error
                    }
                    try? await connection.close()
                } catch {
                    shared.state.withLock { $0.problem = PostgresServer.describe(error, location) }
                }
                try? await Task.sleep(for: .milliseconds(500))
            }
        }
        task.withLock { $0 = started }
    }

    deinit { task.withLock { $0?.cancel() } }

    /// Whether a notification (or a reconnect) came since the last call.
    /// - Throws: `DatabaseOpenError.postgres` while the connection is down, with why.
    func takeChanged() throws -> Bool {
        try shared.state.withLock { state in
            if let problem = state.problem { throw DatabaseOpenError.postgres(location: "listening for changes", problem: problem) }
            defer { state.pending = false }
            return state.pending
        }
    }
}
