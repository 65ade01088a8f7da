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

    /// Whether a process could create the `-wal` and `-shm` files beside the database.
    var directoryIsWritable: Bool { access(directory, W_OK) == 0 }

    /// Whether the `-wal` and `-shm` files are already there (then readers need not create them).
    var companionsExist: Bool { companions.allSatisfy { FileManager.default.fileExists(atPath: $0) } }

    /// Creates the file with mode 0600 from the first byte (SQLite gives `-wal` and `-shm` the
    /// mode of the main file).
    func create() throws(DatabaseOpenError) {
        guard FileManager.default.createFile(atPath: path, contents: nil, attributes: [.posixPermissions: 0o600]) else {
            if !directoryIsWritable { throw .readOnlyDirectory(path: path, directory: directory) }
            throw .other(path: path, message: "cannot create the file (does the folder exist and is it writable?)")
        }
    }

    /// Removes the file and its companions: what a create that failed half-way left behind.
    func remove() {
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
