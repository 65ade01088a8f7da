import Foundation

/// The database as a file on disk, before SQLite sees it: whether it exists or is empty, who
/// may read it, whether its folder can take the `-wal` and `-shm` files WAL mode needs, and
/// removing what a failed `init` created.
struct DatabaseFile {
    let path: String

    /// The files SQLite keeps beside the database in WAL mode.
    var companions: [String] { [path + "-wal", path + "-shm"] }
    var directory: String { (path as NSString).deletingLastPathComponent.isEmpty ? "." : (path as NSString).deletingLastPathComponent }

    var exists: Bool { FileManager.default.fileExists(atPath: path) }

    /// Zero bytes: a file someone touched, or a failed create. Not a database yet.
    var isEmpty: Bool {
        ((try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? NSNumber)?.intValue == 0
    }

    var directoryExists: Bool {
        var isDirectory: ObjCBool = false
        return FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory) && isDirectory.boolValue
    }

    /// Whether a process could create the `-wal` and `-shm` files beside the database.
    var directoryIsWritable: Bool { access(directory, W_OK) == 0 }

    /// Whether the `-wal` and `-shm` files are already there (then readers need not create them).
    var companionsExist: Bool { companions.allSatisfy { FileManager.default.fileExists(atPath: $0) } }

    /// Whether the `-wal` file holds nothing (absent or empty): then the main file alone is the
    /// whole database, and an immutable open misses nothing.
    var walIsEmpty: Bool {
        ((try? FileManager.default.attributesOfItem(atPath: path + "-wal"))?[.size] as? NSNumber)?.intValue ?? 0 == 0
    }

    /// The error for a folder that cannot take the file or its companions.
    var folderProblem: DatabaseOpenError {
        directoryExists ? .readOnlyDirectory(path: path, directory: directory)
            : .other(path: path, message: "the folder \(directory) does not exist")
    }

    /// Creates the file, exclusively and with mode 0600 from the first byte (SQLite gives `-wal`
    /// and `-shm` the mode of the main file). Returns its inode, which `remove` checks; nil when
    /// another process created it first (then it is theirs, and this one opens it as existing).
    func create() throws(DatabaseOpenError) -> ino_t? {
        let descriptor = open(path, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else {
            if errno == EEXIST { return nil }
            if errno == ENOENT || errno == EACCES || errno == EROFS { throw folderProblem }
            throw .other(path: path, message: "cannot create the file (\(String(cString: strerror(errno))))")
        }
        defer { close(descriptor) }
        var status = stat()
        return fstat(descriptor, &status) == 0 ? status.st_ino : nil
    }

    /// Removes what a create that failed half-way left behind: the file it created (the same
    /// inode, not one another process put there since) and the companions beside it.
    func remove(created inode: ino_t) {
        var status = stat()
        guard stat(path, &status) == 0, status.st_ino == inode else { return }
        for file in [path] + companions { try? FileManager.default.removeItem(atPath: file) }
    }

    /// The file holds the signing keys and every session: nobody but its owner may read it.
    /// Mode bits for group or others are taken away (on the file and its companions); returns
    /// what was changed, for the command to say. Throws when they cannot be taken away.
    func restrictToOwner() throws(DatabaseOpenError) -> String? {
        var changed: [String] = []
        for file in [path] + companions {
            guard let mode = ((try? FileManager.default.attributesOfItem(atPath: file))?[.posixPermissions] as? NSNumber)?.uint16Value,
                  mode & 0o077 != 0 else { continue }
            guard chmod(file, mode_t(mode & 0o700)) == 0 else {
                throw .readableByOthers(path: file, mode: String(mode, radix: 8))
            }
            changed.append("\(file) \(String(mode, radix: 8)) → \(String(mode & 0o700, radix: 8))")
        }
        return changed.isEmpty ? nil : "made readable by its owner only (it holds the signing keys): " + changed.joined(separator: ", ")
    }
}
