import Foundation

/// What one connection may cost the server, whatever the client sends or withholds.
///
/// The timeouts follow the phases of a request (the split of Go's `net/http` server and
/// nginx's `client_header_timeout` / `client_body_timeout` / `keepalive_timeout`):
///
/// - `headerTimeout`: from a connection's start (for its first request) or from the first byte
///   of a later one, until the head (request line and headers) is complete. Past it: `408`
///   when a byte of it came, then a close.
/// - `bodyTimeout`: from the head until the whole body has arrived (a total, not between
///   reads, so a client dripping one byte a second still runs out). Past it: `408` when no
///   response has started, then a close.
/// - `idleTimeout`: a kept-alive connection with no request in it. Longer than the usual load
///   balancer idle timeout (60 s), so the balancer closes first and never reuses a dead one.
///
/// - `sendTimeout`: a client that stops reading what it asked for (its receive window full) is
///   closed after this long without progress (nginx's `send_timeout`).
///
/// While the server itself is working on a request no other timer runs: that time is bounded
/// by the server, not by the client.
public struct HTTPLimits: Sendable, Equatable {
    /// Seconds.
    public var headerTimeout: Double = 10
    /// Seconds.
    public var bodyTimeout: Double = 30
    /// Seconds.
    public var idleTimeout: Double = 75
    /// Seconds.
    public var sendTimeout: Double = 30
    /// Connections open at once; past it the listener stops accepting (new clients wait in
    /// the kernel's backlog) until one closes.
    public var maxConnections = 1024
    /// Bytes of the request line (`GET /path?query HTTP/1.1`); longer gets `414`.
    public var maxRequestLineBytes = 8 * 1024
    /// Bytes of all header lines together; more gets `431`.
    public var maxHeaderBytes = 64 * 1024 {
        didSet { maxHeaderLineBytes = min(maxHeaderLineBytes, maxHeaderBytes) }
    }
    /// Bytes of one header line (at most `maxHeaderBytes`); more gets `431`.
    public private(set) var maxHeaderLineBytes = 16 * 1024
    /// Header lines in one request; more gets `431`.
    public var maxHeaderCount = 100

    public init() {}

    /// What the config file and the flags accept.
    public static let timeoutRange: ClosedRange<Double> = 0.1...3600
    public static let connectionRange: ClosedRange<Int> = 1...1_000_000
    public static let requestLineRange: ClosedRange<Int> = 1024...1_048_576
    public static let headerBytesRange: ClosedRange<Int> = 4096...1_048_576
}
