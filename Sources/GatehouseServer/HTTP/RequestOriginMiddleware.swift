import Foundation
import GatehouseCore
import HTTPTypes
import Hummingbird
import NIOCore

/// Who sent the request and under which id: sets the request id (the client's `X-Request-Id`
/// when it is sane, else a new one), the client address and user agent, and echoes the id on
/// every response, errors included. The id is stored in the audit rows the request causes.
struct RequestOriginMiddleware: RouterMiddleware {
    typealias Context = GatehouseRequestContext

    static let requestIdName = HTTPField.Name("X-Request-Id")!
    static let forwardedForName = HTTPField.Name("X-Forwarded-For")!

    let trustProxy: Bool
    let forwardedFor: ForwardedForAudit

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var context = context
        context.requestId = Self.acceptable(request.headers[Self.requestIdName]) ?? Self.newRequestId()
        let forwarded = request.headers[values: Self.forwardedForName]
        context.clientIP = context.remoteAddress?.ipAddress
        if !forwarded.isEmpty {
            if !trustProxy {
                forwardedFor.ignored(logger: context.logger)
            } else if let address = Self.forwardedAddress(forwarded) {
                context.clientIP = address
            } else {
                forwardedFor.refused(forwarded, peer: context.clientIP, logger: context.logger)
            }
        }
        context.userAgent = request.headers[.userAgent].map { String($0.prefix(256)) }
        var response = try await next(request, context)
        response.headers[Self.requestIdName] = context.requestId
        return response
    }

    /// A client's id is kept when it is 1–128 visible ASCII characters from a safe set, so it
    /// can go into logs and the audit log as it is.
    static func acceptable(_ value: String?) -> String? {
        guard let value, (1...128).contains(value.utf8.count),
              value.utf8.allSatisfy({ $0.isASCIIAlphanumeric || "-_.:/+=".utf8.contains($0) }) else { return nil }
        return value
    }

    /// `req_` and 80 random bits in hex (cheap: this runs on every request).
    static func newRequestId() -> String {
        var generator = SystemRandomNumberGenerator()
        let bits = (generator.next() as UInt64, generator.next() as UInt16)
        return "req_" + Fingerprint.hex(withUnsafeBytes(of: bits.0) { Array($0) } + withUnsafeBytes(of: bits.1) { Array($0) })
    }

    /// Behind a trusted proxy, the last `X-Forwarded-For` entry: the address the proxy itself
    /// saw (entries further left are whatever the client chose to send). It must be an IPv4 or
    /// IPv6 address (RFC 7239 §6's node names and obfuscated ids are not addresses); it is
    /// returned in canonical form (`2001:db8::1`), so one client has one bucket key. Nil when
    /// it is anything else: the caller keeps the socket address.
    static func forwardedAddress(_ values: [String]) -> String? {
        guard let last = values.last?.split(separator: ",", omittingEmptySubsequences: false).last else { return nil }
        return IPAddressText.canonical(last.trimmingCharacters(in: .whitespaces))
    }
}
