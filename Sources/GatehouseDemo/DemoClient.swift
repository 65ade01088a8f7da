import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1

/// The simulator's HTTP client: real requests to the real API over async-http-client, whose
/// requests end cleanly when their task is cancelled (FoundationNetworking's `URLSession.data(for:)`
/// can deadlock on a cancellation racing completion: swiftlang/swift-corelibs-foundation#5412,
/// which hung `q` in the demo). Cookies are kept by the simulated browsers themselves, and every
/// request waits for its turn at the pacer so that `--rate` is requests per second.
final class DemoClient: Sendable {
    struct Reply: Sendable {
        var status: Int
        var headers: HTTPHeaders
        var body: Data

        var json: [String: Any] { (try? JSONSerialization.jsonObject(with: body)) as? [String: Any] ?? [:] }

        /// The value of the cookie `name` set by this reply.
        func cookie(_ name: String) -> String? {
            for header in headers["set-cookie"] where header.hasPrefix(name + "=") {
                return header.dropFirst(name.count + 1).split(separator: ";", omittingEmptySubsequences: false).first.map(String.init)
            }
            return nil
        }
    }

    let base: String
    let pacer: Pacer
    let stats: DemoStats
    private let http: HTTPClient

    init(base: String, pacer: Pacer, stats: DemoStats) {
        self.base = base
        self.pacer = pacer
        self.stats = stats
        var configuration = HTTPClient.Configuration()
        configuration.connectionPool.concurrentHTTP1ConnectionsPerHostSoftLimit = 16
        configuration.timeout.connect = .seconds(5)
        http = HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration)
    }

    /// Sends one request as the client at `ip` (the server trusts X-Forwarded-For in the demo).
    /// Nil when it was cancelled or got no answer.
    @discardableResult
    func send(_ method: String, _ path: String, json: String? = nil, ip: String, headers: [String: String] = [:]) async -> Reply? {
        await pacer.wait()
        guard !Task.isCancelled else { return nil }
        var request = HTTPClientRequest(url: base + path)
        request.method = HTTPMethod(rawValue: method)
        request.headers.add(name: "X-Forwarded-For", value: ip)
        for (name, value) in headers { request.headers.replaceOrAdd(name: name, value: value) }
        if let json {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(string: json))
        }
        do {
            let response = try await http.execute(request, timeout: .seconds(10))
            let body = try await response.body.collect(upTo: 4 << 20)
            stats.count(status: Int(response.status.code))
            return Reply(status: Int(response.status.code), headers: response.headers, body: Data(body.readableBytesView))
        } catch {
            if !Task.isCancelled { stats.count(status: 0) }
            return nil
        }
    }

    /// Closes the connections; every request must have ended (the simulator's task group has).
    func shutdown() async { try? await http.shutdown() }
}

/// Spaces requests `1/rate` seconds apart across every concurrent action.
actor Pacer {
    private let interval: Duration
    private var next = ContinuousClock.now

    init(rate: Double) {
        interval = .nanoseconds(Int64(1_000_000_000 / max(0.1, rate)))
    }

    func wait() async {
        let now = ContinuousClock.now
        let slot = max(now, next)
        next = slot + interval
        if slot > now { try? await Task.sleep(until: slot, clock: .continuous) }
    }
}
