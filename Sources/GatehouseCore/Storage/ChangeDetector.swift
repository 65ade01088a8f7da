import Foundation
import GRDB
import Synchronization

/// Tells whether another connection committed since the last question, from `PRAGMA
/// data_version` on a connection of its own (the value is per connection, so a pool's rotating
/// readers cannot answer it). The console polls this on every tick and re-queries only when
/// something changed.
public final class ChangeDetector: Sendable {
    private let queue: DatabaseQueue
    private let last = Mutex<Int?>(nil)

    public init(database: GatehouseDatabase) throws {
        var configuration = Configuration()
        configuration.readonly = true
        configuration.busyMode = .timeout(1)
        queue = try DatabaseQueue(path: database.path, configuration: configuration)
    }

    /// True on the first call and whenever any other connection (another process, or this
    /// process's own pool) committed since the previous call.
    public func hasChanged() throws -> Bool {
        let version = try queue.read { db in try Int.fetchOne(db, sql: "PRAGMA data_version") ?? 0 }
        return last.withLock { previous in
            defer { previous = version }
            return previous != version
        }
    }
}
