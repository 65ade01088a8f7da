import Foundation
import GatehouseTestSupport
import Testing
@testable import GatehouseCore

/// `ChildProcess`, the one way Gatehouse starts a program (Foundation's `Process.run` can
/// crash the whole process on Linux: swiftlang/swift-corelibs-foundation#5472).
@Suite("Child processes")
struct ChildProcessTests {
    @Test("pipes both ways, standard error into standard output, and the exit status")
    func pipes() async throws {
        try await offPool {
            let child = try ChildProcess("/bin/sh", ["-c", "read line; echo \"out $line\"; echo err >&2; exit 3"],
                                         input: .pipe, output: .pipe, errors: .sameAsOutput)
            try child.input!.write(contentsOf: Data("hello\n".utf8))
            try child.input!.close()
            let said = String(decoding: child.output!.readDataToEndOfFile(), as: UTF8.self)
            #expect(said == "out hello\nerr\n")
            #expect(child.wait() == .exited(3) && child.wait().status == 3)
        }
    }

    @Test("only the three standard streams reach the child, and it starts with no signal blocked")
    func descriptorsAndSignals() async throws {
        try await offPool {
            let directory = try TemporaryDirectory()
            // Not close-on-exec, and numbered above anything `ls` opens itself.
            let opened = open(directory.path("kept"), O_WRONLY | O_CREAT, 0o600)
            let kept = fcntl(opened, F_DUPFD, 300)
            close(opened)
            defer { close(kept) }
            #expect(kept >= 300)
            let child = try ChildProcess("/bin/sh", ["-c", "ls /proc/self/fd; grep SigBlk /proc/self/status"], output: .pipe)
            let said = String(decoding: child.output!.readDataToEndOfFile(), as: UTF8.self)
            #expect(child.wait() == .exited(0))
            // 0, 1, 2 and the descriptor `ls` opens to read the directory: never `kept`.
            #expect(!said.split(separator: "\n").contains(Substring(String(kept))), "\(said)")
            #expect(said.contains("SigBlk:\t0000000000000000"), "\(said)")
        }
    }

    @Test("a process group of its own is stopped as one; a signal shows as such; wait(until:) gives up")
    func groupsAndSignals() async throws {
        try await offPool {
            let child = try ChildProcess("/bin/sh", ["-c", "sleep 600 & echo $!; wait"], output: .pipe, processGroup: true)
            var line = Data()
            while let byte = try child.output!.read(upToCount: 1), !byte.isEmpty, byte != Data("\n".utf8) { line += byte }
            let sleeper = String(decoding: line, as: UTF8.self)
            #expect(child.wait(until: .now() + .milliseconds(50)) == nil)
            #expect(child.termination == nil)
            child.signal(SIGTERM, group: true)
            #expect(child.wait() == .signalled(SIGTERM))
            #expect(child.wait().status == 128 + SIGTERM)
            // The group's sleep went too (gone, or a zombie until whoever adopted it reaps it).
            let stopped = { () -> Bool in
                guard let stat = try? String(contentsOfFile: "/proc/\(sleeper)/stat", encoding: .utf8) else { return true }
                return stat.split(separator: ")").last?.trimmingCharacters(in: .whitespaces).hasPrefix("Z") == true
            }
            let deadline = ContinuousClock.now + .seconds(600)
            while !stopped(), ContinuousClock.now < deadline { usleep(10_000) }
            #expect(stopped(), "sleep \(sleeper) is still running")
            child.signal(SIGKILL)                   // reaped: not sent to a pid now another's
        }
    }

    @Test("a program that cannot start is an error that names it")
    func missing() throws {
        #expect(throws: ChildProcess.StartError.self) { try ChildProcess("/nonexistent/gzip", []) }
        do {
            _ = try ChildProcess("/nonexistent/gzip", [])
        } catch {
            #expect("\(error)".contains("/nonexistent/gzip"))
        }
    }

    /// The kind of fault, not the one site: nothing in the product, its tests or its bench
    /// may start a program through Foundation's `Process`.
    @Test("no source file starts a program with Foundation's Process")
    func noFoundationProcess() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        var offenders: [String] = []
        for folder in ["Sources", "Tests", "Benchmarks"] {
            let enumerator = FileManager.default.enumerator(atPath: root.appendingPathComponent(folder).path)
            while let path = enumerator?.nextObject() as? String {
                guard path.hasSuffix(".swift"), !path.hasSuffix("ChildProcessTests.swift") else { continue }
                let text = try String(contentsOf: root.appendingPathComponent(folder).appendingPathComponent(path), encoding: .utf8)
                if text.contains("Process()") || text.contains("Foundation.Process") { offenders.append("\(folder)/\(path)") }
            }
        }
        #expect(offenders.isEmpty, "\(offenders)")
    }
}
