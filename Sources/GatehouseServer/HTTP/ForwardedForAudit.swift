import Foundation
import Logging
import Synchronization

/// What `serve` says about `X-Forwarded-For` it does not use: a counter in `/metrics`
/// (`gatehouse_http_forwarded_for_refused_total`) and log lines a person can bear to read.
///
/// - Without `--trust-proxy` the header is ignored (anyone can send it), and the log says so
///   once: a proxy in front that nobody told the server about makes every client one address.
/// - With it, a last entry that is not an IP address is refused (the socket address is used)
///   and logged at most once a minute, with how many were refused meanwhile: the header's text
///   is the client's, so it must not be able to flood the log.
final class ForwardedForAudit: Sendable {
    private struct State {
        var warnedIgnored = false
        var refusedSinceLog = 0
        var lastLog: ContinuousClock.Instant?
    }

    private let state = Mutex(State())
    private let metrics: ServerMetrics
    static let logInterval: Duration = .seconds(60)

    init(metrics: ServerMetrics) {
        self.metrics = metrics
    }

    func ignored(logger: Logger) {
        let first = state.withLock { state in
            defer { state.warnedIgnored = true }
            return !state.warnedIgnored
        }
        if first {
            logger.warning("""
                requests carry X-Forwarded-For but --trust-proxy is off: the header is ignored and the client address \
                is the socket's. Behind a reverse proxy, start serve with --trust-proxy (shown once)
                """)
        }
    }

    func refused(_ values: [String], peer: String?, logger: Logger) {
        metrics.recordForwardedForRefused()
        let now = ContinuousClock.now
        let count: Int? = state.withLock { state in
            state.refusedSinceLog += 1
            if let last = state.lastLog, now - last < Self.logInterval { return nil }
            defer { state.refusedSinceLog = 0; state.lastLog = now }
            return state.refusedSinceLog
        }
        guard let count else { return }
        logger.warning("X-Forwarded-For is not an IP address; the socket address is used", metadata: [
            "value": "\(Self.printable(values.joined(separator: ", ")))",
            "peer": "\(peer ?? "unknown")",
            "refused_since_last_line": "\(count)",
        ])
    }

    /// Printable ASCII as it is, every other byte as `\xNN`, at most 80 bytes: a value from a
    /// client cannot drive the operator's terminal or forge a log line.
    static func printable(_ text: String) -> String {
        var out = ""
        for byte in text.utf8.prefix(80) {
            if (0x20...0x7E).contains(byte) && byte != UInt8(ascii: "\\") {
                out.unicodeScalars.append(Unicode.Scalar(byte))
            } else {
                out += String(format: "\\x%02X", byte)
            }
        }
        return text.utf8.count > 80 ? out + "…" : out
    }
}
