import Crypto
import Foundation

/// What `audit verify --checkpoints` found: the chain walked, and each signed checkpoint held
/// against it.
public struct CheckpointReport: Sendable, Equatable, Codable {
    /// The hash chain on its own (changed rows, rows removed from the middle).
    public var chain: AuditVerification
    /// Checkpoints of this log that verified (signature, order).
    public var checkpoints: Int
    /// The newest of them: rows after its seq are covered by the chain alone.
    public var newest: SignedCheckpoint?
    /// Each finding, in words, to the row: a cut tail, a rebuilt chain, a forged or missing checkpoint.
    public var problems: [String]

    public var isIntact: Bool { chain.isIntact && problems.isEmpty }
}

/// When the newest signed checkpoint was made and the row it covered.
public struct SignedHead: Sendable, Equatable {
    public var at: Date
    public var seq: Int64
}

extension AuditLog {
    static let logIDName = "audit-log-id"

    /// This audit log's id (16 random bytes, hex), made on first use: checkpoints name it.
    public func logID() async throws -> String {
        if let id = try await database.read({ tx in try Self.storedLogID(in: tx) }) { return id }
        let now = clock.now()
        return try await database.write { tx in
            if let id = try Self.storedLogID(in: tx) { return id }
            let bytes = SymmetricKey(size: .bits128).withUnsafeBytes { Data($0) }
            try tx.execute("INSERT INTO service_secrets (name, value, created_at) VALUES (?, ?, ?) ON CONFLICT (name) DO NOTHING",
                           [Self.logIDName, bytes, now.unixSeconds])
            return try Self.storedLogID(in: tx)!
        }
    }

    static func storedLogID(in tx: any SQLTransaction) throws -> String? {
        try tx.fetchScalar(Data.self, "SELECT value FROM service_secrets WHERE name = ?", [logIDName]).map { Fingerprint.hex($0) }
    }

    /// Signs the chain's head with `key`, appends the checkpoint to `file`, and records it in
    /// the log itself (`audit.checkpointed`, by `actor`). Throws on an empty log.
    public func checkpoint(key: CheckpointKey, file: CheckpointFile, by actor: Actor) async throws -> SignedCheckpoint {
        let log = try await logID()
        guard let head = try await database.read({ tx in
            try tx.fetchOne("SELECT seq, hash FROM audit_events ORDER BY seq DESC LIMIT 1").map {
                (seq: try $0.decode("seq", as: Int64.self), hash: try $0.decode("hash", as: Data.self))
            }
        }) else { throw CheckpointError("the audit log is empty: nothing to sign") }
        let checkpoint = try Self.sign(log: log, seq: head.seq, head: head.hash, key: key, file: file, at: clock.now())
        try await record(AuditEntry(actor: actor, action: "audit.checkpointed", targetType: "audit_log", targetId: log,
                                    details: ["seq": String(checkpoint.seq), "head": checkpoint.head, "key": checkpoint.key,
                                              "file": file.path]))
        return checkpoint
    }

    /// The newest checkpoint recorded in the log: its row's time and the seq it covered.
    public func newestCheckpoint() async throws -> SignedHead? {
        try await database.read { tx in
            guard let log = try Self.storedLogID(in: tx),
                  let event = try tx.fetchOne(AuditEvent.self, """
                      SELECT * FROM audit_events WHERE target_type = 'audit_log' AND target_id = ? AND action = 'audit.checkpointed'
                      ORDER BY seq DESC LIMIT 1
                      """, [log]) else { return nil }
            return SignedHead(at: event.at, seq: Int64(event.detail("seq") ?? "") ?? 0)
        }
    }

    /// Walks the chain and holds every checkpoint of this log in `lines` against it: each must
    /// verify with `publicKey`, follow the one before it, and name a row that still has the
    /// hash it signed. Names a tail cut after a checkpoint and a chain rebuilt from scratch
    /// (every row chains, yet a signed head differs).
    ///
    /// With `archivesIn`, a checkpoint of a row that has since been archived is held against
    /// that row in its archive file; without it, only checkpoints at an archive's cut are checked.
    public func verify(checkpoints lines: [(number: Int, text: String, checkpoint: SignedCheckpoint?)],
                       publicKey: CheckpointPublicKey, archivesIn directory: String? = nil) async throws -> CheckpointReport {
        try await database.read { tx in
            let chain = try Self.verify(in: tx)
            var problems: [String] = []
            guard let log = try Self.storedLogID(in: tx) else {
                let logs = Set(lines.compactMap { $0.checkpoint?.log })
                if !logs.isEmpty {
                    problems.append("this database's audit log has no id, but the file holds checkpoints of \(logs.count) log(s): the database was replaced or its log rebuilt from scratch")
                }
                return CheckpointReport(chain: chain, checkpoints: 0, newest: nil, problems: problems)
            }
            var verified: [SignedCheckpoint] = []
            var previousLine: String?
            for line in lines {
                guard let checkpoint = line.checkpoint else {
                    problems.append("checkpoint line \(line.number) is not a checkpoint (\(SignedCheckpoint.format))")
                    continue
                }
                guard checkpoint.log == log else { continue }
                guard publicKey.verifies(checkpoint) else {
                    problems.append("checkpoint line \(line.number) (row \(checkpoint.seq), \(checkpoint.at)): the signature does not verify with key \(publicKey.fingerprint) (forged or altered)")
                    continue
                }
                let expected = previousLine.map(SignedCheckpoint.lineHash) ?? ""
                if checkpoint.previous != expected {
                    problems.append("checkpoint line \(line.number) (row \(checkpoint.seq)) does not follow the checkpoint before it: checkpoints were removed or reordered")
                }
                previousLine = line.text
                verified.append(checkpoint)
            }
            if verified.isEmpty, problems.isEmpty { problems.append("no checkpoint of this log (\(log)) in the file") }
            let highest = try tx.fetchScalar(Int64.self, "SELECT max(seq) FROM audit_events") ?? 0
            let archives = try tx.fetchAll("SELECT last_seq, last_hash FROM audit_archives").map {
                (try $0.decode("last_seq", as: Int64.self), Fingerprint.hex(try $0.decode("last_hash", as: Data.self)))
            }
            let archivedThrough = archives.map(\.0).max() ?? 0
            for checkpoint in verified {
                if checkpoint.seq <= archivedThrough {
                    // In an archive: the checkpoint at an archive's cut must name its recorded last hash;
                    // any other is held against its row in the archive file when the folder is given.
                    if let cut = archives.first(where: { $0.0 == checkpoint.seq }), cut.1 != checkpoint.head {
                        problems.append("the archive ending at row \(checkpoint.seq) does not end with the hash signed at \(checkpoint.at)")
                        break
                    }
                    if let directory, let problem = try Self.archivedRowProblem(checkpoint, directory: directory, in: tx) {
                        problems.append(problem)
                        break
                    }
                    continue
                }
                let stored = try tx.fetchScalar(Data.self, "SELECT hash FROM audit_events WHERE seq = ?", [checkpoint.seq])
                if stored == nil && checkpoint.seq > highest {
                    problems.append("the tail was cut: the checkpoint of \(checkpoint.at) covers rows to \(checkpoint.seq), the log ends at \(highest) (rows \(highest + 1)–\(checkpoint.seq) are gone)")
                    break
                } else if stored == nil {
                    problems.append("row \(checkpoint.seq), signed at \(checkpoint.at), is gone")
                    break
                } else if let stored, Fingerprint.hex(stored) != checkpoint.head {
                    problems.append(chain.isIntact
                        ? "the chain was rebuilt: every row chains, but row \(checkpoint.seq) does not have the hash signed at \(checkpoint.at) (rows up to it were rewritten and rehashed)"
                        : "row \(checkpoint.seq) does not have the hash signed at \(checkpoint.at) (the chain breaks at \(chain.firstBrokenSeq ?? 0))")
                    break
                }
            }
            // Every archive's cut must be signed: an archive record is what lets rows be deleted,
            // so one written by hand (to delete rows) shows here as a cut nobody signed.
            for (lastSeq, lastHash) in archives where !verified.contains(where: { $0.seq == lastSeq && $0.head == lastHash }) {
                problems.append("the archive ending at row \(lastSeq) has no signed checkpoint at its cut: archived without a checkpoint key, or recorded by hand to delete rows")
            }
            return CheckpointReport(chain: chain, checkpoints: verified.count, newest: verified.last, problems: problems)
        }
    }

    /// Why the archived row `checkpoint` names does not match it (nil when it does): the row is
    /// read from the archive file that holds it.
    static func archivedRowProblem(_ checkpoint: SignedCheckpoint, directory: String, in tx: any SQLTransaction) throws -> String? {
        guard let file = try tx.fetchScalar(String.self, "SELECT file FROM audit_archives WHERE first_seq <= ? AND last_seq >= ?",
                                            [checkpoint.seq, checkpoint.seq]) else {
            return "row \(checkpoint.seq), signed at \(checkpoint.at), is in no archive on record"
        }
        let path = directory + "/" + file
        guard FileManager.default.fileExists(atPath: path) else { return "archive \(file), which holds row \(checkpoint.seq), is missing from \(directory)" }
        var found: String?
        let decoder = JSONDecoder()
        try GzipFile.readLines(path) { line in
            // A cheap look first (a prefix such as 12 of 123 passes it; the decoded seq decides).
            guard found == nil, line.contains("\"seq\":\(checkpoint.seq)"),
                  let event = try? decoder.decode(AuditEvent.self, from: Data(line.utf8)), event.seq == checkpoint.seq else { return }
            found = Fingerprint.hex(event.hash)
        }
        guard let found else { return "archive \(file) has no row \(checkpoint.seq), signed at \(checkpoint.at)" }
        return found == checkpoint.head ? nil
            : "row \(checkpoint.seq) in archive \(file) does not have the hash signed at \(checkpoint.at): the archive was rewritten"
    }
}
