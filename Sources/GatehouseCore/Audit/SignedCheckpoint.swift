import Crypto
import Foundation

/// A signed statement of the audit chain's head: "log L had N rows, the last hashing to H, at
/// time T", chained to the statement before it and signed with an Ed25519 key that lives
/// outside the database. Kept outside the database too, it shows what the hash chain alone
/// cannot: rows cut off the end, or a whole chain rebuilt by someone holding the file (AWS
/// CloudTrail's digest files, Certificate Transparency's signed tree heads, RFC 6962 §3.5).
///
/// One JSON object per line of `checkpoints.jsonl` (keys sorted, no spaces):
///
///     {"at":"2026-12-01T05:00:00Z","format":"gatehouse-audit-checkpoint/1","head":"<hex>","key":"<fingerprint>",
///      "log":"<log id>","previous":"<hex SHA-256 of the log's previous line>","seq":1234,"signature":"<base64url>"}
///
/// The signature covers `signedText`: the fields but the signature, one a line, in a fixed order.
public struct SignedCheckpoint: Sendable, Equatable, Codable {
    public static let format = "gatehouse-audit-checkpoint/1"

    public var format: String
    /// The audit log's id (`AuditLog.logID`): tells deployments' checkpoints apart.
    public var log: String
    /// The newest row covered.
    public var seq: Int64
    /// That row's hash, lowercase hex.
    public var head: String
    /// When it was signed (RFC 3339, UTC).
    public var at: String
    /// SHA-256 (hex) of this log's previous checkpoint line, "" for the first: a removed or
    /// reordered checkpoint shows.
    public var previous: String
    /// The signing key's fingerprint (`CheckpointPublicKey.fingerprint`).
    public var key: String
    public var signature: String

    var signedText: String { [format, log, String(seq), head, at, previous, key].joined(separator: "\n") }

    /// The line as written to the file.
    public var line: String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return String(decoding: (try? encoder.encode(self)) ?? Data(), as: UTF8.self)
    }

    static func lineHash(_ line: String) -> String { Fingerprint.hex(Array(SHA256.hash(data: Data(line.utf8)))) }
}

/// A mistake with a checkpoint key or file, in one sentence.
public struct CheckpointError: Error, Equatable, CustomStringConvertible {
    public var description: String
    init(_ description: String) { self.description = description }
}

/// The Ed25519 key that signs checkpoints: a one-line file, mode 0600, beside which `create`
/// writes the public key (`FILE.pub`) to keep wherever checkpoints are verified.
public struct CheckpointKey: Sendable {
    static let header = "gatehouse-audit-checkpoint-key/1"
    let privateKey: Curve25519.Signing.PrivateKey
    public var publicKey: CheckpointPublicKey { CheckpointPublicKey(raw: privateKey.publicKey.rawRepresentation) }

    public static func load(path: String) throws(CheckpointError) -> CheckpointKey {
        var status = stat()
        guard stat(path, &status) == 0 else { throw CheckpointError("cannot read the checkpoint key \(path): \(String(cString: strerror(errno)))") }
        if status.st_mode & 0o077 != 0 {
            throw CheckpointError("the checkpoint key \(path) can be read by others (mode \(String(status.st_mode & 0o777, radix: 8))): chmod 600 \(path)")
        }
        guard let text = try? String(contentsOfFile: path, encoding: .utf8),
              let raw = CheckpointPublicKey.field(text, header: header),
              let key = try? Curve25519.Signing.PrivateKey(rawRepresentation: raw) else {
            throw CheckpointError("\(path) is not a checkpoint key (\(header))")
        }
        return CheckpointKey(privateKey: key)
    }

    /// Makes a key at `path` (0600; refuses to replace one) and its public key at `path.pub`.
    public static func create(path: String) throws(CheckpointError) -> CheckpointKey {
        let key = CheckpointKey(privateKey: Curve25519.Signing.PrivateKey())
        let descriptor = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0o600)
        guard descriptor >= 0 else { throw CheckpointError("cannot create the checkpoint key \(path): \(String(cString: strerror(errno)))") }
        let handle = FileHandle(fileDescriptor: descriptor, closeOnDealloc: true)
        do {
            try handle.write(contentsOf: Data("\(header) \(Base64URL.encode(Array(key.privateKey.rawRepresentation)))\n".utf8))
            try handle.synchronize()
            try handle.close()
            try Data("\(CheckpointPublicKey.header) \(Base64URL.encode(Array(key.publicKey.raw)))\n".utf8)
                .write(to: URL(fileURLWithPath: path + ".pub"), options: .atomic)
        } catch {
            throw CheckpointError("cannot write the checkpoint key \(path): \(error.localizedDescription)")
        }
        return key
    }

    func sign(_ text: String) throws -> String {
        Base64URL.encode(Array(try privateKey.signature(for: Data(text.utf8))))
    }
}

/// What verifies checkpoints: the public half, from `FILE.pub` or from the key itself.
public struct CheckpointPublicKey: Sendable, Equatable {
    static let header = "gatehouse-audit-checkpoint-public-key/1"
    public let raw: Data

    /// The first 16 hex digits of the key's SHA-256: names the key in every checkpoint.
    public var fingerprint: String { String(Fingerprint.hex(Array(SHA256.hash(data: raw))).prefix(16)) }

    /// A public key file (`.pub`), or a private key file (whose public half is taken).
    public static func load(path: String) throws(CheckpointError) -> CheckpointPublicKey {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { throw CheckpointError("cannot read \(path)") }
        if let raw = field(text, header: header), raw.count == 32 { return CheckpointPublicKey(raw: raw) }
        if field(text, header: CheckpointKey.header) != nil { return try CheckpointKey.load(path: path).publicKey }
        throw CheckpointError("\(path) is not a checkpoint key or public key")
    }

    func verifies(_ checkpoint: SignedCheckpoint) -> Bool {
        guard let key = try? Curve25519.Signing.PublicKey(rawRepresentation: raw),
              let signature = Base64URL.decode(checkpoint.signature) else { return false }
        return key.isValidSignature(signature, for: Data(checkpoint.signedText.utf8))
    }

    static func field(_ text: String, header: String) -> Data? {
        let parts = text.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: " ")
        guard parts.count == 2, parts[0] == header else { return nil }
        return Base64URL.decode(String(parts[1]))
    }
}

/// `DIR/checkpoints.jsonl`: checkpoints appended one a line, never rewritten. Appends take an
/// exclusive lock on the file (flock), so that processes sharing the folder chain their
/// checkpoints one after the other rather than forking.
public struct CheckpointFile: Sendable {
    public let directory: String
    public var path: String { directory + "/checkpoints.jsonl" }

    public init(directory: String) { self.directory = directory }

    /// Appends the checkpoint `make` returns, given the hash of this log's last line ("" for none).
    func append(log: String, _ make: (String) throws -> SignedCheckpoint) throws -> SignedCheckpoint {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let descriptor = open(path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else { throw CheckpointError("cannot open \(path): \(String(cString: strerror(errno)))") }
        defer { close(descriptor) }
        guard flock(descriptor, LOCK_EX) == 0 else { throw CheckpointError("cannot lock \(path): \(String(cString: strerror(errno)))") }
        let lines = try read()
        let previous = lines.last { $0.checkpoint?.log == log }.map { SignedCheckpoint.lineHash($0.text) } ?? ""
        let checkpoint = try make(previous)
        // A line torn by a crash (no newline at its end) must not swallow this one.
        let torn = (try? String(contentsOfFile: path, encoding: .utf8)).map { !$0.isEmpty && !$0.hasSuffix("\n") } ?? false
        let bytes = Array(((torn ? "\n" : "") + checkpoint.line + "\n").utf8)
        guard write(descriptor, bytes, bytes.count) == bytes.count, fsync(descriptor) == 0 else {
            throw CheckpointError("cannot append to \(path): \(String(cString: strerror(errno)))")
        }
        return checkpoint
    }

    /// Every line with its number; `checkpoint` is nil for a line that does not parse.
    public func read() throws -> [(number: Int, text: String, checkpoint: SignedCheckpoint?)] {
        guard FileManager.default.fileExists(atPath: path) else { return [] }
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { throw CheckpointError("cannot read \(path)") }
        return text.split(separator: "\n", omittingEmptySubsequences: false).enumerated().compactMap { index, line in
            guard !line.isEmpty else { return nil }
            let checkpoint = try? JSONDecoder().decode(SignedCheckpoint.self, from: Data(line.utf8))
            return (index + 1, String(line), checkpoint?.format == SignedCheckpoint.format ? checkpoint : nil)
        }
    }
}
