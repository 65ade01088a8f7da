import Foundation
import GatehouseCore
import GatehouseServer
import GatehouseTestSupport
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore

/// A `GatehouseServer` over a fresh SQLite file with a manual clock, driven through
/// HummingbirdTesting (`.router` by default, `.live` for a real socket).
struct ServerFixture {
    let directory: TemporaryDirectory
    let clock: ManualClock
    let gatehouse: Gatehouse
    /// What `--db` takes for this fixture's database.
    let path: String
    let server: GatehouseServer

    static let webhookSecret = "whsec_test_0123456789abcdefghijklmnopqrstuv"

    init(options configure: (inout ServerOptions) -> Void = { _ in },
         configuration adjust: (inout GatehouseConfiguration) -> Void = { _ in }) throws {
        directory = try TemporaryDirectory()
        clock = ManualClock(Date())
        var configuration = GatehouseConfiguration()
        adjust(&configuration)
        path = try directory.database("gatehouse")
        gatehouse = try Gatehouse.open(path: path, options: TestEngine.options(createIfMissing: true),
                                       configuration: configuration, clock: clock)
        var options = ServerOptions()
        options.dev = true
        options.webhookSecret = Self.webhookSecret
        // Lets tests choose the client address per request.
        options.trustProxy = true
        // No embedded worker unless a test asks for one (it would poll during every test).
        options.workers = 0
        options.dataDirectory = directory.path("documents")
        configure(&options)
        server = GatehouseServer(gatehouse: gatehouse, options: options)
    }

    func test<Value>(_ setup: TestingSetup = .router, _ body: @Sendable (any TestClientProtocol) async throws -> Value) async throws -> Value {
        var logger = Logger(label: "gatehouse-tests")
        logger.logLevel = .critical
        return try await server.makeApplication(logger: logger).test(setup, body)
    }
}

extension TestClientProtocol {
    func post(_ path: String, json: String, headers: HTTPFields = [:]) async throws -> TestResponse {
        var fields = headers
        if fields[.contentType] == nil { fields[.contentType] = "application/json" }
        return try await execute(uri: path, method: .post, headers: fields, body: ByteBuffer(string: json))
    }

    func get(_ path: String, headers: HTTPFields = [:]) async throws -> TestResponse {
        try await execute(uri: path, method: .get, headers: headers)
    }

    /// Magic link (dev token) → verify: the token response of a fresh API login.
    func apiLogin(_ email: String = "alice@example.com", ip: String = "198.51.100.7") async throws -> Tokens {
        let link = try await post("/api/v1/auth/magic-link", json: #"{"email":"\#(email)"}"#, headers: [.forwardedFor: ip])
        guard link.status == .accepted, let token = link.json["dev_token"] as? String else { throw FixtureError.unexpected(link) }
        let verified = try await post("/api/v1/auth/verify", json: #"{"token":"\#(token)"}"#, headers: [.forwardedFor: ip])
        guard verified.status == .ok else { throw FixtureError.unexpected(verified) }
        return try Tokens(verified.json)
    }

    func devToken(_ email: String = "alice@example.com", ip: String = "198.51.100.7") async throws -> String {
        let link = try await post("/api/v1/auth/magic-link", json: #"{"email":"\#(email)"}"#, headers: [.forwardedFor: ip])
        guard let token = link.json["dev_token"] as? String else { throw FixtureError.unexpected(link) }
        return token
    }
}

struct Tokens {
    var access: String
    var refresh: String

    init(_ json: [String: Any]) throws {
        guard let access = json["access_token"] as? String, let refresh = json["refresh_token"] as? String else {
            throw FixtureError.missing("tokens in \(json)")
        }
        self.access = access
        self.refresh = refresh
    }

    var bearer: HTTPFields { [.authorization: "Bearer \(access)"] }
}

enum FixtureError: Error, CustomStringConvertible {
    case unexpected(TestResponse)
    case missing(String)

    var description: String {
        switch self {
        case .unexpected(let response): "unexpected \(response.status.code): \(response.text)"
        case .missing(let what): "missing \(what)"
        }
    }
}

extension TestResponse {
    var text: String { String(buffer: body) }

    /// The body as a JSON object ([:] when it is not one).
    var json: [String: Any] {
        (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: Any] ?? [:]
    }

    /// The problem `type` suffix (`rate-limited`), when the response is a problem document.
    var problemKind: String? {
        guard headers[.contentType] == "application/problem+json", let type = json["type"] as? String else { return nil }
        return type.replacingOccurrences(of: "urn:gatehouse:problem:", with: "")
    }

    /// The `Set-Cookie` value for `name`, if any.
    func setCookie(_ name: String) -> String? {
        headers[values: .setCookie].first { $0.hasPrefix("\(name)=") }
    }

    /// The cookie value (between `=` and the first `;`).
    func cookieValue(_ name: String) -> String? {
        setCookie(name).flatMap { $0.dropFirst(name.count + 1).split(separator: ";", omittingEmptySubsequences: false).first.map(String.init) }
    }
}

extension HTTPField.Name {
    static let forwardedFor = HTTPField.Name("X-Forwarded-For")!
    static let requestId = HTTPField.Name("X-Request-Id")!
    static let stripeSignature = HTTPField.Name("Stripe-Signature")!
    static let rateLimit = HTTPField.Name("RateLimit")!
    static let rateLimitPolicy = HTTPField.Name("RateLimit-Policy")!
}
