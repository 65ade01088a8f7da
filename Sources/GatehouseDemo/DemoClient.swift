import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// The simulator's HTTP client: real requests to the real API. Cookies are kept by the
/// simulated browsers themselves (URLSession's jar is off), and every request waits for its
/// turn at the pacer so that `--rate` is requests per second, whatever the mix of actions.
final class DemoClient: Sendable {
    struct Reply: Sendable {
        var status: Int
        var headers: [String: String]
        var body: Data

        var json: [String: Any] { (try? JSONSerialization.jsonObject(with: body)) as? [String: Any] ?? [:] }

        /// The value of the cookie `name` set by this reply.
        func cookie(_ name: String) -> String? {
            guard let header = headers["set-cookie"], header.hasPrefix(name + "=") else { return nil }
            return header.dropFirst(name.count + 1).split(separator: ";", omittingEmptySubsequences: false).first.map(String.init)
        }
    }

    let base: String
    let pacer: Pacer
    let stats: DemoStats
    private let session: URLSession

    init(base: String, pacer: Pacer, stats: DemoStats) {
        self.base = base
        self.pacer = pacer
        self.stats = stats
        let configuration = URLSessionConfiguration.ephemeral
        configuration.httpShouldSetCookies = false
        configuration.httpCookieAcceptPolicy = .never
        configuration.httpMaximumConnectionsPerHost = 16
        configuration.timeoutIntervalForRequest = 10
        session = URLSession(configuration: configuration)
    }

    /// Sends one request as the client at `ip` (the server trusts X-Forwarded-For in the demo).
    @discardableResult
    func send(_ method: String, _ path: String, json: String? = nil, ip: String, headers: [String: String] = [:]) async -> Reply? {
        await pacer.wait()
        guard !Task.isCancelled, let url = URL(string: base + path) else { return nil }
        var request = URLRequest(url: url)
        request.httpMethod = method
        request.setValue(ip, forHTTPHeaderField: "X-Forwarded-For")
        for (name, value) in headers { request.setValue(value, forHTTPHeaderField: name) }
        if let json {
            request.setValue("application/json", forHTTPHeaderField: "Content-Type")
            request.httpBody = Data(json.utf8)
        }
        do {
            let (body, response) = try await session.data(for: request)
            guard let http = response as? HTTPURLResponse else { return nil }
            var fields: [String: String] = [:]
            for (name, value) in http.allHeaderFields {
                if let name = name as? String, let value = value as? String { fields[name.lowercased()] = value }
            }
            stats.count(status: http.statusCode)
            return Reply(status: http.statusCode, headers: fields, body: body)
        } catch {
            if !Task.isCancelled { stats.count(status: 0) }
            return nil
        }
    }

    func invalidate() { session.invalidateAndCancel() }
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
