import Crypto
import Foundation

/// A document being written: appended to in chunks (memory stays flat however long it gets),
/// hashed as it goes, and moved into place only when finished, so a half-written file never
/// carries the final name.
final class DocumentFile {
    let name: String
    let mediaType: String
    private let finalURL: URL
    private let partialURL: URL
    private let handle: FileHandle
    private var hasher = SHA256()
    private var size: Int64 = 0
    private var buffer: [UInt8] = []

    init(directory: URL, name: String, mediaType: String) throws {
        self.name = name
        self.mediaType = mediaType
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true,
                                                attributes: [.posixPermissions: 0o700])
        finalURL = directory.appendingPathComponent(name)
        partialURL = directory.appendingPathComponent(name + ".partial")
        // Documents hold personal data: readable by the owner only.
        guard FileManager.default.createFile(atPath: partialURL.path, contents: nil, attributes: [.posixPermissions: 0o600]) else {
            throw JobError.invalidArguments("cannot create \(partialURL.path)")
        }
        handle = try FileHandle(forWritingTo: partialURL)
        buffer.reserveCapacity(Self.flushSize)
    }

    private static let flushSize = 256 * 1024

    func write(_ text: String) throws {
        buffer.append(contentsOf: text.utf8)
        if buffer.count >= Self.flushSize { try flush() }
    }

    private func flush() throws {
        guard !buffer.isEmpty else { return }
        hasher.update(data: buffer)
        size += Int64(buffer.count)
        try handle.write(contentsOf: buffer)
        buffer.removeAll(keepingCapacity: true)
    }

    /// Flushes, syncs, renames into place and returns what the job records.
    func finish() throws -> JobOutput {
        try flush()
        try handle.synchronize()
        try handle.close()
        if FileManager.default.fileExists(atPath: finalURL.path) { try FileManager.default.removeItem(at: finalURL) }
        try FileManager.default.moveItem(at: partialURL, to: finalURL)
        return JobOutput(name: name, path: finalURL.path, mediaType: mediaType, size: size, sha256: Fingerprint.hex(Array(hasher.finalize())))
    }

    /// Removes the partial file (a cancelled or failed job).
    func discard() {
        try? handle.close()
        try? FileManager.default.removeItem(at: partialURL)
    }
}

/// JSON string literal escaping for hand-streamed documents.
enum JSONText {
    static func string(_ value: String?) -> String {
        guard let value else { return "null" }
        return CanonicalJSON.quoted(value)
    }

    static func date(_ value: Date?) -> String {
        string(value.map { Timestamp.iso8601($0) })
    }
}

/// RFC 3339 timestamps with milliseconds, UTC, for documents and job arguments.
public enum Timestamp {
    private static let withFraction = Date.ISO8601FormatStyle(includingFractionalSeconds: true)
    private static let plain = Date.ISO8601FormatStyle()
    private static let dayOnly = Date.ISO8601FormatStyle().year().month().day()

    public static func iso8601(_ date: Date) -> String {
        date.formatted(withFraction)
    }

    /// Whole seconds, for text people read (a mail's expiry).
    public static func iso8601Seconds(_ date: Date) -> String {
        date.formatted(plain)
    }

    /// Accepts `2026-11-21`, `2026-11-21T10:00:00Z` and `2026-11-21T10:00:00.250Z`.
    public static func parse(_ text: String) -> Date? {
        (try? plain.parse(text)) ?? (try? withFraction.parse(text)) ?? (try? dayOnly.parse(text))
    }
}
