import Foundation
import GRDB

/// Another connection holding the SQLite write lock (`BEGIN IMMEDIATE`) on a thread of its own,
/// until `release()`: for tests of what a writer does while it waits.
public final class WriteLockHolder: @unchecked Sendable {
    private let queue: DatabaseQueue
    private let holding = DispatchSemaphore(value: 0)
    private let releasing = DispatchSemaphore(value: 0)

    /// Returns once the lock is held.
    public init(path: String) throws {
        queue = try DatabaseQueue(path: path)
        let (queue, holding, releasing) = (queue, holding, releasing)
        Thread.detachNewThread {
            try? queue.inDatabase { db in
                try db.execute(sql: "BEGIN IMMEDIATE")
                holding.signal()
                releasing.wait()
                try db.execute(sql: "ROLLBACK")
            }
            holding.signal()
        }
        holding.wait()
    }

    /// Rolls back and returns once the lock is free; idempotent.
    public func release() {
        guard !released else { return }
        released = true
        releasing.signal()
        holding.wait()
        try? queue.close()
    }

    private var released = false
    deinit { release() }
}
