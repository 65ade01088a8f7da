import Foundation
import GRDB
@testable import GatehouseCore

/// A temporary folder removed when the value is released.
final class TemporaryDirectory: Sendable {
    let url: URL

    init() throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("gatehouse-tests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    func path(_ name: String) -> String { url.appendingPathComponent(name).path }

    deinit { try? FileManager.default.removeItem(at: url) }
}

/// A Gatehouse over a fresh SQLite file in a temporary folder, with a manual clock.
struct TestGatehouse {
    let directory: TemporaryDirectory
    let clock: ManualClock
    let gatehouse: Gatehouse
    var path: String { directory.path("gatehouse.sqlite") }

    init(configure: (inout GatehouseConfiguration) -> Void = { _ in }) throws {
        directory = try TemporaryDirectory()
        clock = ManualClock()
        var configuration = GatehouseConfiguration()
        configure(&configuration)
        gatehouse = try Gatehouse.open(path: directory.path("gatehouse.sqlite"),
                                       options: .init(createIfMissing: true),
                                       configuration: configuration, clock: clock)
    }

    /// Magic link → verify: a fresh login of `kind` for `email`.
    func login(_ email: String = "alice@example.com", kind: Session.Kind = .api,
               context: RequestContext = RequestContext(ip: "198.51.100.7", userAgent: "tests")) async throws -> Login {
        let link = try await gatehouse.magicLinks.requestMagicLink(email: email, context: context)
        return try await gatehouse.magicLinks.verifyMagicLink(token: link.token.value, kind: kind, context: context)
    }

    func apiLogin(_ email: String = "alice@example.com", ip: String = "198.51.100.7") async throws -> (Login, TokenPair) {
        let login = try await login(email, kind: .api, context: RequestContext(ip: ip, userAgent: "tests"))
        guard case .tokens(let pair) = login.credential else { throw AuthError.notFound("token pair") }
        return (login, pair)
    }

    func webLogin(_ email: String = "alice@example.com") async throws -> (Login, SecretToken) {
        let login = try await login(email, kind: .web)
        guard case .cookie(let secret) = login.credential else { throw AuthError.notFound("cookie") }
        return (login, secret)
    }

    /// Raw SQL against the file from a separate connection, as an attacker or a curious admin would.
    func rawWrite(_ sql: String) throws {
        let queue = try DatabaseQueue(path: path)
        try queue.write { db in try db.execute(sql: sql) }
        try queue.close()
    }

    func auditActions() async throws -> [String] {
        try await gatehouse.audit.tail(limit: 10_000).map(\.action)
    }
}

extension Error {
    /// The credential failure inside an `AuthError`, for terse assertions.
    var credentialFailure: CredentialFailure? {
        if let error = self as? AuthError, case .invalidCredential(let failure) = error { return failure }
        return nil
    }
}

/// Captures the failure reason of an async call, or nil when it succeeded.
func failure<T>(_ body: () async throws -> T) async -> CredentialFailure? {
    do {
        _ = try await body()
        return nil
    } catch {
        return error.credentialFailure
    }
}

/// The `gatehouse` executable built beside the test bundle.
enum GatehouseBinary {
    static var url: URL {
        var directory = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        if directory.lastPathComponent.hasSuffix(".xctest") { directory.deleteLastPathComponent() }
        return directory.appendingPathComponent("gatehouse")
    }

    struct Result {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    /// Starts `gatehouse args…` and returns the running process with its output pipes.
    static func start(_ arguments: [String], environment: [String: String] = [:]) throws -> (Process, Pipe, Pipe) {
        let process = Process()
        process.executableURL = url
        process.arguments = arguments
        var env = ProcessInfo.processInfo.environment
        env.removeValue(forKey: "GATEHOUSE_DB")
        for (key, value) in environment { env[key] = value }
        process.environment = env
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = FileHandle.nullDevice
        try process.run()
        return (process, out, err)
    }

    static func finish(_ started: (Process, Pipe, Pipe)) -> Result {
        let (process, out, err) = started
        let stdout = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        let stderr = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        return Result(status: process.terminationStatus, stdout: stdout, stderr: stderr)
    }

    static func run(_ arguments: [String], environment: [String: String] = [:]) throws -> Result {
        finish(try start(arguments, environment: environment))
    }
}
