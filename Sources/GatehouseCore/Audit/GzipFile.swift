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
        let process = Process()
        process.executableURL = URL(fileURLWithPath: program)
        process.arguments = ["-c", "-6"]
        let input = Pipe()
        process.standardInput = input
        process.standardOutput = output
        try process.run()
        do {
            try body { data in try input.fileHandleForWriting.write(contentsOf: data) }
            try input.fileHandleForWriting.close()
        } catch {
            process.terminate()
            process.waitUntilExit()
            throw error
        }
        process.waitUntilExit()
        try output.synchronize()
        try output.close()
        guard process.terminationStatus == 0 else { throw Failure(description: "gzip failed writing \(path) (exit \(process.terminationStatus))") }
    }

    /// Calls `line` with each line of the decompressed file, in order.
    static func readLines(_ path: String, _ line: (Substring) throws -> Void) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: program)
        process.arguments = ["-dc", path]
        let output = Pipe()
        let errors = Pipe()
        process.standardOutput = output
        process.standardError = errors
        try process.run()
        var pending = Data()
        do {
            while let chunk = try output.fileHandleForReading.read(upToCount: 1 << 16), !chunk.isEmpty {
                pending.append(chunk)
                var start = pending.startIndex
                while let newline = pending[start...].firstIndex(of: 0x0A) {
                    try line(Substring(decoding: pending[start..<newline], as: UTF8.self))
                    start = pending.index(after: newline)
                }
                pending = Data(pending[start...])
            }
        } catch {
            process.terminate()
            process.waitUntilExit()
            throw error
        }
        process.waitUntilExit()
        if !pending.isEmpty { try line(Substring(decoding: pending, as: UTF8.self)) }
        guard process.terminationStatus == 0 else {
            let said = String(decoding: (try? errors.fileHandleForReading.readToEnd()) ?? Data(), as: UTF8.self)
            throw Failure(description: "\(path) is not a readable gzip file: \(said.trimmingCharacters(in: .whitespacesAndNewlines))")
        }
    }
}
