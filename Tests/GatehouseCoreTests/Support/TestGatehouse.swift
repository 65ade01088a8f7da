import Foundation
import GatehouseTestSupport
@testable import GatehouseCore

/// A Gatehouse over a fresh database of the run's engine (`TestEngine`: an SQLite file in a
/// temporary folder, or a database of its own on the shared PostgreSQL server), with a manual clock.
struct TestGatehouse {
    let directory: TemporaryDirectory
    let clock: ManualClock
    let gatehouse: Gatehouse
    /// What `--db` takes: the file's path or the database's URL.
    let path: String

    /// `realTime`: the manual clock starts at the wall clock's now (for tests with other
    /// processes, which read the real time).
    init(realTime: Bool = false, configure: (inout GatehouseConfiguration) -> Void = { _ in }) throws {
        directory = try TemporaryDirectory()
        path = try directory.database("gatehouse")
        clock = realTime ? ManualClock(Date()) : ManualClock()
        var configuration = GatehouseConfiguration()
        configure(&configuration)
        gatehouse = try Gatehouse.open(path: path,
                                       options: TestEngine.options(createIfMissing: true),
                                       configuration: configuration, clock: clock)
    }

    /// Magic link → verify: a fresh login of `kind` for `email`.
    func login(_ email: String = "alice@example.com", kind: Session.Kind = .api,
               context: ClientContext = ClientContext(ip: "198.51.100.7", userAgent: "tests")) async throws -> Login {
        let link = try await gatehouse.magicLinks.requestMagicLink(email: email, context: context)
        return try await gatehouse.magicLinks.verifyMagicLink(token: link.token.value, kind: kind, context: context)
    }

    func apiLogin(_ email: String = "alice@example.com", ip: String = "198.51.100.7") async throws -> (Login, TokenPair) {
        let login = try await login(email, kind: .api, context: ClientContext(ip: ip, userAgent: "tests"))
        guard case .tokens(let pair) = login.credential else { throw AuthError.notFound("token pair") }
        return (login, pair)
    }

    func webLogin(_ email: String = "alice@example.com") async throws -> (Login, SecretToken) {
        let login = try await login(email, kind: .web)
        guard case .cookie(let secret) = login.credential else { throw AuthError.notFound("cookie") }
        return (login, secret)
    }

    /// Raw SQL from a separate connection, as an attacker or a curious admin would.
    func rawWrite(_ sql: String) throws {
        try TestEngine.rawExecute(sql, on: path)
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

