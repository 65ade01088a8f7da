import Crypto
import Foundation

/// One archive file of audit rows, as the database records it.
public struct AuditArchiveRecord: Sendable, Equatable, Codable {
    public var firstSeq: Int64
    public var lastSeq: Int64
    /// The hash of `lastSeq`, lowercase hex: the database's first row chains from it.
    public var lastHash: String
    /// The file's name in the archive folder.
    public var file: String
    /// SHA-256 of the compressed file, lowercase hex.
    public var sha256: String
    public var rowCount: Int64
    public var createdAt: Date

    enum CodingKeys: String, CodingKey {
        case file, sha256
        case firstSeq = "first_seq", lastSeq = "last_seq", lastHash = "last_hash", rowCount = "row_count", createdAt = "created_at"
    }

    init(row: SQLRow) throws {
        firstSeq = try row.decode("first_seq")
        lastSeq = try row.decode("last_seq")
        lastHash = Fingerprint.hex(try row.decode("last_hash", as: Data.self))
        file = try row.decode("file")
        sha256 = Fingerprint.hex(try row.decode("sha256", as: Data.self))
        rowCount = try row.decode("row_count")
        createdAt = try row.decode("created_at")
    }
}

/// Moving old audit rows out of the database into compressed JSON Lines files, without
/// losing what the chain proves.
///
/// - An archive holds rows `first_seq…last_seq`, one JSON object a line (`AuditEvent`'s own
///   coding, hashes included), gzip-compressed, mode 0600, named `audit-<log>-<first>-<last>.jsonl.gz`.
/// - It is written, read back and walked again before anything is deleted: the walk must
///   start from the previous archive's last hash (or the genesis hash) and end at the hash
///   the database holds for `last_seq`. Its SHA-256 is recorded in `audit_archives`.
/// - With a checkpoint key, a signed checkpoint of `last_seq` bridges the cut: whoever later
///   rewrites both the archive and the database cannot make them agree with it.
/// - Then the rows go, in batches (the delete guard lets rows up to the newest archive go, no
///   others). `audit verify` starts from the newest archive's last hash; with `--archives DIR`
///   it walks every archive and then the database, end to end.
extension AuditLog {
    static func archivedBoundary(in tx: any SQLTransaction) throws -> (seq: Int64, hash: Data)? {
        try tx.fetchOne("SELECT last_seq, last_hash FROM audit_archives ORDER BY last_seq DESC LIMIT 1").map {
            (try $0.decode("last_seq", as: Int64.self), try $0.decode("last_hash", as: Data.self))
        }
    }

    /// Every archive, oldest first.
    public func archives() async throws -> [AuditArchiveRecord] {
        try await database.read { tx in try tx.fetchAll("SELECT * FROM audit_archives ORDER BY first_seq").map(AuditArchiveRecord.init(row:)) }
    }

    /// Archives every row older than `cutoff` not archived yet into a file in `directory`, signs
    /// a bridging checkpoint when given one, and removes the rows. Nil when there is nothing to
    /// archive. `progress` hears rows written so far. The file work runs on a thread of its own.
    public func archive(before cutoff: Date, to directory: String, checkpoint: (key: CheckpointKey, file: CheckpointFile)?,
                        by actor: Actor, progress: @escaping @Sendable (Int64, Int64) -> Void = { _, _ in }) async throws -> AuditArchiveRecord? {
        let log = try await logID()
        let (boundary, last) = try await database.read { tx in
            let boundary = try Self.archivedBoundary(in: tx) ?? (0, Self.genesisHash)
            let last = try tx.fetchScalar(Int64.self, "SELECT max(seq) FROM audit_events WHERE at < ? AND seq > ?",
                                          [cutoff.unixSeconds, boundary.seq])
            return (boundary, last)
        }
        // Rows an earlier run archived but had not yet removed (it stopped between the two).
        try await removeArchivedRows(through: boundary.seq)
        guard let last else { return nil }
        let name = "audit-\(log.prefix(12))-\(boundary.seq + 1)-\(last).jsonl.gz"
        let database = database
        let written = try await Blocking.run {
            try Self.writeArchive(database, directory: directory, name: name, after: boundary, through: last, progress: progress)
        }
        if let checkpoint {
            _ = try Self.sign(log: log, seq: last, head: written.lastHash, key: checkpoint.key, file: checkpoint.file, at: clock.now())
        }
        let now = clock.now()
        try await database.write { tx in
            // Another archiver (a CLI run beside the retention job) may have moved the boundary meanwhile.
            let current = try Self.archivedBoundary(in: tx)?.seq ?? 0
            guard current == boundary.seq else {
                throw CheckpointError("another archive run took rows \(boundary.seq + 1)–\(current) meanwhile; \(name) is not recorded (remove it)")
            }
            try tx.execute("""
                INSERT INTO audit_archives (first_seq, last_seq, last_hash, file, sha256, row_count, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)
                """, [boundary.seq + 1, last, written.lastHash, name, written.sha256, written.rows, now.unixSeconds])
            try AuditLog.append(AuditEntry(actor: actor, action: "audit.archived", targetType: "audit_log", targetId: log, details: [
                "first_seq": String(boundary.seq + 1), "last_seq": String(last), "file": name, "sha256": Fingerprint.hex(written.sha256),
                "rows": String(written.rows), "checkpoint": checkpoint == nil ? "none" : "signed",
            ]), in: tx, at: now)
        }
        try await removeArchivedRows(through: last)
        return try await archives().last
    }

    /// Deletes rows up to `last` (archived) in batches: each its own short transaction, so that
    /// a million rows never hold the write lock at once.
    private func removeArchivedRows(through last: Int64) async throws {
        guard last > 0 else { return }
        while try await database.write({ tx in
            try tx.execute("DELETE FROM audit_events WHERE seq IN (SELECT seq FROM audit_events WHERE seq <= ? ORDER BY seq LIMIT 10000)", [last])
        }) > 0 {}
    }

    /// Writes rows after `boundary` through `last` to `directory/name`, walking the chain as it
    /// goes, reads the file back and walks it again, and only then puts it in place (the
    /// folder synced, so that the name survives a power loss).
    private static func writeArchive(_ database: GatehouseDatabase, directory: String, name: String, after boundary: (seq: Int64, hash: Data),
                                     through last: Int64, progress: (Int64, Int64) -> Void) throws -> (lastHash: Data, sha256: Data, rows: Int) {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let path = directory + "/" + name
        let temporary = path + ".partial-\(getpid())"
        defer { unlink(temporary) }
        var walk = ChainWalk(after: boundary.seq, hash: boundary.hash)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let total = last - boundary.seq
        try GzipFile.write(to: temporary) { write in
            var after = boundary.seq
            while after < last {
                let batch = try database.readSync { tx in
                    try tx.fetchAll(AuditEvent.self, "SELECT * FROM audit_events WHERE seq > ? AND seq <= ? ORDER BY seq LIMIT 2000", [after, last])
                }
                guard !batch.isEmpty else { break }
                var lines = Data()
                for event in batch {
                    guard walk.check(event) else { throw CheckpointError("not archived: the chain breaks at row \(walk.firstBrokenSeq ?? event.seq) (\(walk.problem ?? ""))") }
                    lines.append(try encoder.encode(event))
                    lines.append(0x0A)
                }
                try write(lines)
                after = batch.last!.seq
                progress(after - boundary.seq, total)
            }
        }
        guard walk.isIntact, walk.nextSeq - 1 == last, let lastHash = walk.previousHash else {
            throw CheckpointError("not archived: rows up to \(last) were not all there (the walk ended at \(walk.nextSeq - 1))")
        }
        // Read back: the file must hold exactly this chain before any row goes.
        let reread = try walkArchive(temporary, after: boundary.seq, hash: boundary.hash)
        guard reread.isIntact, reread.nextSeq - 1 == last, reread.previousHash == lastHash else {
            throw CheckpointError("not archived: \(temporary) did not read back as written")
        }
        let digest = try sha256(ofFile: temporary)
        guard link(temporary, path) == 0 else {
            throw CheckpointError("cannot put \(path) in place: \(String(cString: strerror(errno))) (an archive of these rows exists already?)")
        }
        let folder = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if folder >= 0 {
            fsync(folder)
            close(folder)
        }
        return (lastHash, digest, walk.checked)
    }

    /// Walks `path`'s rows from (`seq`, `hash`).
    static func walkArchive(_ path: String, after seq: Int64, hash: Data) throws -> ChainWalk {
        var walk = ChainWalk(after: seq, hash: hash)
        let decoder = JSONDecoder()
        try GzipFile.readLines(path) { line in
            guard walk.isIntact, !line.isEmpty else { return }
            guard let event = try? decoder.decode(AuditEvent.self, from: Data(line.utf8)) else {
                walk.fail(at: walk.nextSeq, "\(path): a line that is not an audit row")
                return
            }
            walk.check(event)
        }
        return walk
    }

    static func sha256(ofFile path: String) throws -> Data {
        guard let handle = FileHandle(forReadingAtPath: path) else { throw CheckpointError("cannot read \(path)") }
        defer { try? handle.close() }
        var hasher = SHA256()
        while let chunk = try handle.read(upToCount: 1 << 20), !chunk.isEmpty { hasher.update(data: chunk) }
        return Data(hasher.finalize())
    }

    /// The whole chain: every archive in `directory` (each checked against its recorded
    /// SHA-256 and chained to the one before), then the database's rows, in one read (an archive
    /// run meanwhile cannot move the boundary under the walk), then the cut-tail check.
    public func verify(archivesIn directory: String) async throws -> AuditVerification {
        let database = database
        return try await Blocking.run {
            try database.readSync { tx in
                let records = try tx.fetchAll("SELECT * FROM audit_archives ORDER BY first_seq").map(AuditArchiveRecord.init(row:))
                var walk = ChainWalk.beginning
                var checked = 0
                for record in records {
                    let path = directory + "/" + record.file
                    guard FileManager.default.fileExists(atPath: path) else {
                        return AuditVerification(checked: checked, firstBrokenSeq: record.firstSeq, problem: "archive \(record.file) (rows \(record.firstSeq)–\(record.lastSeq)) is missing from \(directory)")
                    }
                    guard try Fingerprint.hex(Self.sha256(ofFile: path)) == record.sha256 else {
                        return AuditVerification(checked: checked, firstBrokenSeq: record.firstSeq, problem: "archive \(record.file) was changed: its SHA-256 is not the one recorded")
                    }
                    let next = try Self.walkArchive(path, after: walk.nextSeq - 1, hash: walk.previousHash ?? Self.genesisHash)
                    checked += next.checked
                    guard next.isIntact else {
                        return AuditVerification(checked: checked, firstBrokenSeq: next.firstBrokenSeq, problem: "in \(record.file): \(next.problem ?? "")")
                    }
                    guard next.nextSeq - 1 == record.lastSeq, next.previousHash.map(Fingerprint.hex) == record.lastHash else {
                        return AuditVerification(checked: checked, firstBrokenSeq: next.nextSeq, problem: "archive \(record.file) ends at row \(next.nextSeq - 1), not \(record.lastSeq) as recorded")
                    }
                    walk = next
                }
                let before = walk.checked
                try Self.walk(&walk, in: tx)
                checked += walk.checked - before
                // As in `verify(in:)`: SQLite's AUTOINCREMENT remembers rows cut from the end.
                let highest = tx.dialect == .sqlite ? try Self.highestSeq(in: tx) : 0
                if walk.isIntact, highest >= walk.nextSeq {
                    walk.fail(at: walk.nextSeq, "rows \(walk.nextSeq)–\(highest) were deleted from the end")
                }
                return AuditVerification(checked: checked, firstBrokenSeq: walk.firstBrokenSeq, problem: walk.problem,
                                         archivedThrough: records.last?.lastSeq)
            }
        }
    }

    /// Signs (`seq`, `head`) of `log` with `key` and appends it to `file`.
    static func sign(log: String, seq: Int64, head: Data, key: CheckpointKey, file: CheckpointFile, at now: Date) throws -> SignedCheckpoint {
        try file.append(log: log) { previous in
            var checkpoint = SignedCheckpoint(format: SignedCheckpoint.format, log: log, seq: seq, head: Fingerprint.hex(head),
                                              at: Timestamp.iso8601Seconds(now), previous: previous, key: key.publicKey.fingerprint, signature: "")
            checkpoint.signature = try key.sign(checkpoint.signedText)
            return checkpoint
        }
    }
}
