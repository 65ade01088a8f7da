import GatehouseCore
import Prometheus

/// The Prometheus metrics `GET /metrics` exposes. One registry per server (not the global
/// swift-metrics system), so tests and several servers in one process never mix counts.
public final class ServerMetrics: Sendable {
    let registry = PrometheusCollectorRegistry()

    static let latencyBuckets: [Duration] = [
        .microseconds(500), .milliseconds(1), .milliseconds(2), .milliseconds(5), .milliseconds(10),
        .milliseconds(25), .milliseconds(50), .milliseconds(100), .milliseconds(250), .milliseconds(500),
        .seconds(1), .seconds(2.5),
    ]

    public init() {}

    /// `route` is the route template (`/api/v1/auth/refresh`), never the raw path, so a
    /// scanner probing random URLs cannot grow the label set.
    func recordRequest(method: String, route: String, status: Int, duration: Duration) {
        registry.makeCounter(descriptor: Self.requests, labels: [("method", method), ("route", route), ("status", String(status))])
            .increment()
        registry.makeDurationHistogram(descriptor: Self.latency, labels: [("route", route)], buckets: Self.latencyBuckets)
            .record(duration)
    }

    /// A connection the edge answered or closed itself (timeouts, oversized or malformed
    /// requests): counted apart from the requests the routes saw.
    func recordEdgeRefusal(_ refusal: EdgeRefusal) {
        registry.makeCounter(descriptor: Self.edgeRefusals, labels: [("reason", refusal.rawValue)]).increment()
    }

    func recordForwardedForRefused() {
        registry.makeCounter(descriptor: Self.forwardedForRefused, labels: []).increment()
    }

    /// `outcome`: rotated, refused or rate_limited.
    func recordRefresh(outcome: String) {
        registry.makeCounter(descriptor: Self.refreshes, labels: [("outcome", outcome)]).increment()
    }

    func recordReuseDetected() {
        registry.makeCounter(descriptor: Self.reuse, labels: []).increment()
    }

    func recordRateLimitBlock(policy: String) {
        registry.makeCounter(descriptor: Self.blocks, labels: [("policy", policy)]).increment()
    }

    /// Group commit's effect: write requests and the transactions they shared.
    func recordWrites(_ statistics: WriteStatistics) {
        registry.makeGauge(descriptor: Self.writeRequests, labels: []).set(Double(statistics.requests))
        registry.makeGauge(descriptor: Self.writeTransactions, labels: []).set(Double(statistics.transactions))
        registry.makeGauge(descriptor: Self.writesInline, labels: []).set(Double(statistics.inline))
    }

    /// The text exposition format.
    func exposition() -> [UInt8] {
        registry.emitToBuffer()
    }

    private static var requests: MetricNameDescriptor { MetricNameDescriptor(
        namespace: "gatehouse", subsystem: "http", metricName: "requests", unitName: "total",
        helpText: "HTTP requests by method, route template and status") }
    private static var latency: MetricNameDescriptor { MetricNameDescriptor(
        namespace: "gatehouse", subsystem: "http", metricName: "request_duration", unitName: "seconds",
        helpText: "Time from request head to response head, by route template") }
    private static var edgeRefusals: MetricNameDescriptor { MetricNameDescriptor(
        namespace: "gatehouse", subsystem: "http", metricName: "edge_refusals", unitName: "total",
        helpText: "Connections answered or closed before a route: header_timeout, body_timeout, idle_timeout, send_timeout, request_line_too_long, headers_too_large, malformed_request") }
    private static var forwardedForRefused: MetricNameDescriptor { MetricNameDescriptor(
        namespace: "gatehouse", subsystem: "http", metricName: "forwarded_for_refused", unitName: "total",
        helpText: "Requests whose X-Forwarded-For was not an IP address (the socket address was used)") }
    private static var refreshes: MetricNameDescriptor { MetricNameDescriptor(
        namespace: "gatehouse", metricName: "refreshes", unitName: "total",
        helpText: "Refresh-token exchanges by outcome (rotated, refused, rate_limited)") }
    private static var reuse: MetricNameDescriptor { MetricNameDescriptor(
        namespace: "gatehouse", metricName: "refresh_reuse_detected", unitName: "total",
        helpText: "Refresh attempts refused because the token had already been rotated (reuse)") }
    private static var writeRequests: MetricNameDescriptor { MetricNameDescriptor(
        namespace: "gatehouse", subsystem: "db", metricName: "write_requests", unitName: "",
        helpText: "Write requests since start (each its own savepoint)") }
    private static var writeTransactions: MetricNameDescriptor { MetricNameDescriptor(
        namespace: "gatehouse", subsystem: "db", metricName: "write_transactions", unitName: "",
        helpText: "Transactions committed since start; requests/transactions is the group-commit factor") }
    private static var writesInline: MetricNameDescriptor { MetricNameDescriptor(
        namespace: "gatehouse", subsystem: "db", metricName: "write_inline", unitName: "",
        helpText: "Write requests run on the caller's thread, without a hand-off (SQLite)") }
    private static var blocks: MetricNameDescriptor { MetricNameDescriptor(
        namespace: "gatehouse", metricName: "rate_limit_blocked", unitName: "total",
        helpText: "Requests refused by a rate-limit policy") }
}
