import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore

/// Catches every error below it and answers with `application/problem+json`, so no client
/// ever sees Hummingbird's plain-text errors or a stack trace. An unmatched route whose path
/// exists under another method is a 405 with `Allow`, not a 404.
struct ProblemMiddleware: RouterMiddleware {
    typealias Context = GatehouseRequestContext

    static let clientClosedRequest = 499

    /// What reading a request whose connection is gone fails with: a truncated body that does
    /// not decode, or the channel's own error. Any other error keeps its status, even when the
    /// client has left meanwhile (an outage must still show as 5xx).
    static func isRequestReadFailure(_ error: any Error) -> Bool {
        error is DecodingError || error is ChannelError || error is IOError
    }

    let catalog: RouteCatalog
    let metrics: ServerMetrics

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch {
            var problem = ErrorMapping.problem(for: error)
            if problem.kind == .notFound, error is HTTPError {
                let allowed = catalog.methods(forPath: request.uri.path)
                if !allowed.isEmpty {
                    problem = Problem(.methodNotAllowed, "\(request.method) is not allowed here",
                                      headers: [.allow: allowed.map(\.rawValue).joined(separator: ", ")])
                }
            }
            if problem.kind == .rateLimited, let policy = problem.extensions["policy"] {
                metrics.recordRateLimitBlock(policy: policy)
            }
            if context.connectionClosed && Self.isRequestReadFailure(error) {
                // The client went away (or a timeout closed the connection) while its request
                // was being read: nothing failed on the server's side. nginx's 499, never
                // delivered, so that the 5xx rate and the error log stay the server's.
                context.logger.debug("client closed the connection before its request was read",
                                     metadata: ["error": "\(String(reflecting: type(of: error)))"])
                return Response(status: .init(code: Self.clientClosedRequest))
            }
            if problem.kind == .internalError {
                context.logger.error("request failed", metadata: ["error": "\(String(reflecting: type(of: error)))"])
            }
            return problem.response(requestId: context.requestId)
        }
    }
}

extension Problem {
    /// The RFC 9457 document, with the request id so a report can be matched to the audit log.
    func response(requestId: String) -> Response {
        var fields = headers
        fields[.contentType] = "application/problem+json"
        return Response(status: status, headers: fields, body: .init(byteBuffer: ByteBuffer(bytes: document(requestId: requestId).encoded())))
    }

    /// The `application/problem+json` body.
    func document(requestId: String) -> JSONValue {
        var body: [String: JSONValue] = [
            "type": .string(kind.typeURI), "title": .string(kind.title), "status": .int(kind.status),
            "detail": .string(detail),
        ]
        if !requestId.isEmpty { body["request_id"] = .string(requestId) }
        for (key, value) in extensions { body[key] = .string(value) }
        return .object(body)
    }
}
