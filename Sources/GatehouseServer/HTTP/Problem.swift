import Foundation
import HTTPTypes

/// An RFC 9457 problem: what every error response of the API carries, as
/// `application/problem+json`. `type` is a stable URN per kind of problem; clients branch on it,
/// people read `title` and `detail`.
public struct Problem: Error, Sendable, Equatable {
    public var kind: ProblemKind
    public var detail: String
    /// Extra headers: `Retry-After`, `WWW-Authenticate`, `Allow`, rate-limit fields.
    public var headers: HTTPFields = [:]
    /// Members beyond the standard five (for example `reason` for a refused credential).
    public var extensions: [String: String] = [:]

    public init(_ kind: ProblemKind, _ detail: String, headers: HTTPFields = [:], extensions: [String: String] = [:]) {
        self.kind = kind
        self.detail = detail
        self.headers = headers
        self.extensions = extensions
    }

    public var status: HTTPResponse.Status { .init(code: kind.status) }
}

/// Every kind of problem the API answers with. The raw value is the last part of the `type`
/// URN and never changes once released.
public enum ProblemKind: String, Sendable, CaseIterable {
    case malformedJSON = "malformed-json"
    case invalidRequest = "invalid-request"
    case unsupportedMediaType = "unsupported-media-type"
    case bodyTooLarge = "body-too-large"
    case requestTimeout = "request-timeout"
    case uriTooLong = "uri-too-long"
    case headersTooLarge = "headers-too-large"
    case notFound = "not-found"
    case methodNotAllowed = "method-not-allowed"
    case invalidEmail = "invalid-email"
    case invalidCredential = "invalid-credential"
    case unauthenticated = "unauthenticated"
    case forbidden = "forbidden"
    case notReady = "not-ready"
    case rateLimited = "rate-limited"
    case invalidSignature = "invalid-signature"
    case webhookNotConfigured = "webhook-not-configured"
    case serviceUnavailable = "service-unavailable"
    case internalError = "internal-error"

    public var typeURI: String { "urn:gatehouse:problem:\(rawValue)" }

    public var status: Int {
        switch self {
        case .malformedJSON, .invalidRequest, .invalidSignature: 400
        case .invalidCredential, .unauthenticated: 401
        case .forbidden: 403
        case .notFound: 404
        case .methodNotAllowed: 405
        case .notReady: 409
        case .requestTimeout: 408
        case .bodyTooLarge: 413
        case .uriTooLong: 414
        case .headersTooLarge: 431
        case .unsupportedMediaType: 415
        case .invalidEmail: 422
        case .rateLimited: 429
        case .internalError: 500
        case .webhookNotConfigured, .serviceUnavailable: 503
        }
    }

    public var title: String {
        switch self {
        case .malformedJSON: "The body is not valid JSON"
        case .invalidRequest: "The request does not have the expected shape"
        case .unsupportedMediaType: "Unsupported media type"
        case .bodyTooLarge: "The body is too large"
        case .requestTimeout: "The request did not arrive in time"
        case .uriTooLong: "The request line is too long"
        case .headersTooLarge: "The request headers are too large"
        case .notFound: "Not found"
        case .methodNotAllowed: "Method not allowed"
        case .invalidEmail: "Invalid email address"
        case .invalidCredential: "The credential was refused"
        case .unauthenticated: "Authentication required"
        case .forbidden: "Not allowed"
        case .notReady: "Not ready"
        case .rateLimited: "Too many requests"
        case .invalidSignature: "The webhook signature is not valid"
        case .webhookNotConfigured: "The payment webhook is not configured"
        case .serviceUnavailable: "Temporarily unavailable"
        case .internalError: "Internal error"
        }
    }
}
