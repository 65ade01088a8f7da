import Foundation
import GRDB

/// Damage done to a database file on purpose, as a disk or a careless copy would.
public enum DamagedFile {
    /// Overwrites the root page of `table` with 0xFF bytes, after checkpointing the WAL into the
    /// file: the schema still reads, every statement touching `table` meets SQLITE_CORRUPT.
    public static func corruptRootPage(of table: String, in path: String) throws {
        let queue = try DatabaseQueue(path: path)
        let (root, pageSize) = try queue.writeWithoutTransaction { db -> (Int, Int) in
            try db.checkpoint(.truncate)
            return (try Int.fetchOne(db, sql: "SELECT rootpage FROM sqlite_master WHERE name = ?", arguments: [table]) ?? 0,
                    try Int.fetchOne(db, sql: "PRAGMA page_size") ?? 4096)
        }
        try queue.close()
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        try handle.seek(toOffset: UInt64((root - 1) * pageSize))
        try handle.write(contentsOf: Data(repeating: 0xFF, count: pageSize))
        try handle.close()
    }
}
