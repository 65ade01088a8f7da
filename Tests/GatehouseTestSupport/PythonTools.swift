import Foundation

/// The Python interpreter with the PyPI tools some tests talk to (aiosmtpd, PyJWT): real peers
/// written by others, not our own idea of the protocol.
///
/// Found at $GATEHOUSE_TEST_PYTHON, else in `.build/ci-venv` (where `.ci/run` installs them).
/// Without it those tests are skipped on a developer's machine and fail under CI (`CI` set),
/// where a missing tool is a broken set-up, not a reason to pass.
public enum PythonTools {
    /// The modules the tests import.
    public static let modules = ["aiosmtpd", "jwt", "cryptography"]

    public static let python: String? = {
        let environment = ProcessInfo.processInfo.environment
        let venv = packageRoot.appendingPathComponent(".build/ci-venv/bin/python").path
        for candidate in [environment["GATEHOUSE_TEST_PYTHON"], venv].compactMap({ $0 }) where !candidate.isEmpty {
            guard FileManager.default.isExecutableFile(atPath: candidate),
                  let check = try? Subprocess.run(candidate, ["-c", "import " + modules.joined(separator: ", ")]),
                  check.status == 0 else { continue }
            return candidate
        }
        return nil
    }()

    /// Whether the tests that need these tools run (always under CI).
    public static var testsRun: Bool { python != nil || ProcessInfo.processInfo.environment["CI"] != nil }

    public static func required() throws -> String {
        guard let python else {
            throw ToolError("no Python with \(modules.joined(separator: ", ")): set GATEHOUSE_TEST_PYTHON, or run "
                            + "python3 -m venv .build/ci-venv && .build/ci-venv/bin/pip install aiosmtpd 'pyjwt[crypto]'")
        }
        return python
    }

    /// msmtp, Debian's sendmail implementation the mail tests hand mail through.
    public static let msmtp: String? = ["/usr/bin/msmtp", "/usr/local/bin/msmtp"].first { FileManager.default.isExecutableFile(atPath: $0) }

    public static var mailTestsRun: Bool { (python != nil && msmtp != nil) || ProcessInfo.processInfo.environment["CI"] != nil }

    /// The package's root folder (this file is Tests/GatehouseTestSupport/PythonTools.swift).
    public static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    /// A file under Tests/Fixtures.
    public static func fixture(_ name: String) -> String {
        packageRoot.appendingPathComponent("Tests/Fixtures/\(name)").path
    }

    public struct ToolError: Error, CustomStringConvertible {
        public var description: String
        public init(_ description: String) { self.description = description }
    }
}

/// A real SMTP relay on loopback (Tests/Fixtures/smtp_relay.py, aiosmtpd) that keeps what it
/// accepts as files, and an msmtp configuration that relays to it: the `sendmail` command a
/// Gatehouse under test is given.
public final class SMTPRelay: @unchecked Sendable {
    public let port: Int
    public let maildir: String
    public let directory: TemporaryDirectory
    private let process: Subprocess

    public init() async throws {
        let python = try PythonTools.required()
        directory = try TemporaryDirectory()
        maildir = directory.path("maildir")
        process = try Subprocess(python, [PythonTools.fixture("smtp_relay.py"), maildir])
        let deadline = ContinuousClock.now + .seconds(60)
        var port: Int?
        while port == nil, ContinuousClock.now < deadline {
            if let line = process.outputSoFar().split(separator: "\n").first(where: { $0.hasPrefix("listening on ") }) {
                port = Int(line.dropFirst("listening on ".count))
            } else if kill(process.pid, 0) != 0 {
                break
            } else {
                try await Task.sleep(for: .milliseconds(50))
            }
        }
        guard let port else {
            process.terminate()
            throw PythonTools.ToolError("the SMTP relay did not start: \(process.outputSoFar()) \(process.errorsSoFar())")
        }
        self.port = port
    }

    deinit { process.terminate() }

    /// The sendmail command that relays through msmtp to `port` (this relay's by default; give a
    /// closed port for a relay that is down).
    public func sendmailCommand(port: Int? = nil) throws -> String {
        guard let msmtp = PythonTools.msmtp else { throw PythonTools.ToolError("msmtp is not installed (apt-get install msmtp)") }
        let config = directory.path("msmtprc-\(port ?? self.port)")
        // msmtp refuses a configuration file others can read.
        try """
            defaults
            auth off
            tls off
            account default
            host 127.0.0.1
            port \(port ?? self.port)
            from gatehouse@example.test
            """.write(toFile: config, atomically: true, encoding: .utf8)
        chmod(config, 0o600)
        return "\(msmtp) -C \(config) -t -oi"
    }

    /// The messages accepted so far, in order, as text.
    public func messages() -> [String] {
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: maildir)) ?? []).filter { $0.hasSuffix(".eml") }
        return names.sorted { (Int($0.dropLast(4)) ?? 0) < (Int($1.dropLast(4)) ?? 0) }
            .compactMap { try? String(contentsOfFile: "\(maildir)/\($0)", encoding: .utf8) }
    }
}
