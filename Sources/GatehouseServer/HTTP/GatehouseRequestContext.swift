import GatehouseCore
import Hummingbird
import NIOCore

/// The per-request state every handler sees: Hummingbird's core storage plus the request id
/// and the client address that audit rows and rate-limit keys need.
public struct GatehouseRequestContext: RequestContext {
    public typealias Source = ApplicationRequestContextSource

    public var coreContext: CoreRequestContextStorage
    /// The peer of the TCP connection (nil in router-level tests).
    public let remoteAddress: SocketAddress?
    /// The connection: a request whose connection closed before its answer was aborted by the
    /// client (or by a timeout), not failed by the server.
    let channel: any Channel
    /// Whether the connection was open when the request began (router-level tests have none).
    private let connected: Bool
    /// Set by `RequestIdMiddleware` from `X-Request-Id` or generated.
    public var requestId = ""
    /// The client address used for per-client rate limits and the audit log.
    public var clientIP: String?
    public var userAgent: String?

    public init(source: Source) {
        coreContext = .init(source: source)
        remoteAddress = source.channel.remoteAddress
        channel = source.channel
        connected = source.channel.isActive
    }

    /// 64 KiB: every Gatehouse request is a small JSON document. Larger bodies get 413.
    public static let maxBodyBytes = 64 * 1024
    public var maxUploadSize: Int { Self.maxBodyBytes }

    /// True once the client (or a timeout) has closed the connection: no answer can reach it.
    var connectionClosed: Bool { connected && !channel.isActive }

    /// What Core copies into the audit rows this request causes.
    var client: GatehouseCore.ClientContext {
        GatehouseCore.ClientContext(ip: clientIP, userAgent: userAgent, requestId: requestId)
    }
}
