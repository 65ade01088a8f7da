import Foundation

/// Which processes hold write locks on a database, so that "locked" can name a pid.
///
/// SQLite in WAL mode takes POSIX advisory locks on the `-shm` file (and the main file);
/// Linux lists every such lock in /proc/locks with the pid and the file's inode. Elsewhere
/// this answers an empty list and messages simply omit the pid.
enum LockHolders {
    static func writers(of path: String) -> [Int32] {
        // /proc/locks is read in pieces, not as a snapshot: a lock taken or dropped meanwhile can make
        // a read skip a line. A second look costs little next to the 5 s the caller has waited.
        for _ in 0..<3 {
            let found = scan(ProcFile.text("/proc/locks"), of: path)
            if !found.isEmpty { return found }
        }
        return []
    }

    /// Every other process with the database open: in WAL mode each connection holds a read
    /// lock on the `-shm` file's "DMS" byte (offset 128) for as long as it is open. Asked of the
    /// kernel directly (F_GETLK: whoever would conflict with a write lock there), then of
    /// /proc/locks for the other pids; nil when it cannot be told (the caller must then refuse).
    static func users(of path: String) -> [Int32]? {
        let shm = path + "-shm"
        guard FileManager.default.fileExists(atPath: shm) else { return [] }  // no connection has it open in WAL mode
        let descriptor = open(shm, O_RDWR | O_CLOEXEC)
        guard descriptor >= 0 else { return nil }
        defer { close(descriptor) }
        var probe = flock()
        probe.l_type = Int16(F_WRLCK)
        probe.l_whence = Int16(SEEK_SET)
        probe.l_start = 128
        probe.l_len = 1
        guard fcntl(descriptor, F_GETLK, &probe) == 0 else { return nil }
        if probe.l_type == Int16(F_UNLCK) { return [] }
        let listed = (0..<3).lazy.map { _ in scan(ProcFile.text("/proc/locks"), of: path, kinds: ["READ", "WRITE"]) }.first { !$0.isEmpty }
        return listed ?? [probe.l_pid]
    }

    private static func scan(_ text: String?, of path: String, kinds: Set<Substring> = ["WRITE"]) -> [Int32] {
        guard let table = text else { return [] }
        let inodes = Set([path, path + "-shm", path + "-wal"].compactMap(inode))
        guard !inodes.isEmpty else { return [] }
        let me = getpid()
        var pids: [Int32] = []
        // "1: POSIX  ADVISORY  WRITE 4121 08:01:1311883 120 120"
        for line in table.split(separator: "\n") {
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            guard fields.count >= 6, fields[1] == "POSIX", kinds.contains(fields[3]),
                  let pid = Int32(fields[4]), pid != me,
                  let inode = fields[5].split(separator: ":").last.flatMap({ UInt64($0) }),
                  inodes.contains(inode), !pids.contains(pid) else { continue }
            pids.append(pid)
        }
        return pids
    }

    private static func inode(_ path: String) -> UInt64? {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        return UInt64(info.st_ino)  // device not compared: /proc/locks names it as major:minor, a false match costs a refusal only
    }
}
