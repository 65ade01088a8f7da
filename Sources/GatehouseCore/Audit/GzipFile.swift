import Foundation

/// Compressed JSON Lines through the system's `gzip` (RFC 1952): Foundation on Linux has no
/// zlib binding and none is among the project's libraries, and `gzip` is on every Debian
/// system (an essential package). Written and read as streams: an archive of millions of rows
/// never sits in memory.
enum GzipFile {
    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    static var program: String {
        ["/usr/bin/gzip", "/bin/gzip"].first { FileManager.default.isExecutableFile(atPath: $0) } ?? "/bin/gzip"
    }

    /// Writes what `body` sends through the writer, compressed, to `path` (mode 0600).
    static func write(to path: String, _ body: (_ write: (Data) throws -> Void) throws -> Void) throws {
        Blocking.ignoreBrokenPipes
        let descriptor = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else { throw Failure(description: "cannot create \(path): \(String(cString: strerror(errno)))") }
        let output = FileHandle(fileDescriptor: descriptor, closeOnDealloc: true)
        let gzip = try ChildProcess(program, ["-c", "-6"], input: .pipe, output: .descriptor(descriptor))
        do {
            try body { data in try gzip.input!.write(contentsOf: data) }
            try gzip.input!.close()
        } catch {
            gzip.signal(SIGTERM)
            gzip.wait()
            throw error
        }
        let ended = gzip.wait()
        try output.synchronize()
        try output.close()
        guard ended == .exited(0) else { throw Failure(description: "gzip failed writing \(path) (exit \(ended.status))") }
    }

    /// Calls `line` with each line of the decompressed file, in order.
    static func readLines(_ path: String, _ line: (Substring) throws -> Void) throws {
        let gzip = try ChildProcess(program, ["-dc", path], output: .pipe, errors: .pipe)
        var pending = Data()
        do {
            while let chunk = try gzip.output!.read(upToCount: 1 << 16), !chunk.isEmpty {
                pending.append(chunk)
                var start = pending.startIndex
                while let newline = pending[start...].firstIndex(of: 0x0A) {
                    try line(Substring(decoding: pending[start..<newline], as: UTF8.self))
                    start = pending.index(after: newline)
                }
                pending = Data(pending[start...])
            }
        } catch {
            gzip.signal(SIGTERM)
            gzip.wait()
            throw error
        }
        let ended = gzip.wait()
        if !pending.isEmpty { try line(Substring(decoding: pending, as: UTF8.self)) }
        guard ended == .exited(0) else {
            let said = String(decoding: (try? gzip.errors!.readToEnd()) ?? Data(), as: UTF8.self)
            throw Failure(description: "\(path) is not a readable gzip file: \(said.trimmingCharacters(in: .whitespacesAndNewlines))")
        }
    }
}
