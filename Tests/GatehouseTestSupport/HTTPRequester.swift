import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1

/// One HTTP exchange with a real server.
public struct HTTPResult: Sendable {
    public var status: Int
    /// Header names lowercased.
    public var headers: [String: String]
    public var body: Data

    public var text: String { String(decoding: body, as: UTF8.self) }

    public var json: [String: Any] {
        (try? JSONSerialization.jsonObject(with: body)) as? [String: Any] ?? [:]
    }
}

/// A plain HTTP client for tests against a listening server (a `.live` test app or a
/// `gatehouse serve` process): many connections at once, no cookie jar, no caching.
/// async-http-client, like the demo: its requests end cleanly when their task is cancelled.
public final class HTTPRequester: Sendable {
    /// One client for the whole test process (never shut down: it lives as long as the process).
    public static let shared = HTTPRequester(maxConnections: 64)

    private let http: HTTPClient

    private init(maxConnections: Int) {
        var configuration = HTTPClient.Configuration()
        configuration.connectionPool.concurrentHTTP1ConnectionsPerHostSoftLimit = maxConnections
        configuration.timeout.connect = .seconds(10)
        http = HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration)
    }

    public func send(_ method: String, _ url: String, json: String? = nil, headers: [String: String] = [:]) async throws -> HTTPResult {
        var request = HTTPClientRequest(url: url)
        request.method = HTTPMethod(rawValue: method)
        if let json {
            request.body = .bytes(ByteBuffer(string: json))
            request.headers.add(name: "Content-Type", value: "application/json")
        }
        for (name, value) in headers { request.headers.replaceOrAdd(name: name, value: value) }
        let response = try await http.execute(request, timeout: .seconds(60))
        let body = try await response.body.collect(upTo: 64 << 20)
        var fields: [String: String] = [:]
        for header in response.headers {
            let name = header.name.lowercased()
            fields[name] = fields[name].map { $0 + ", " + header.value } ?? header.value
        }
        return HTTPResult(status: Int(response.status.code), headers: fields, body: Data(body.readableBytesView))
    }
}
