import Foundation
import GatehouseCore
import HTTPTypes
import Hummingbird
import NIOCore

/// Turns whatever a handler threw into the problem a client should see. Everything a client
/// can cause maps to a 4xx; only a fault of the server itself becomes `internal-error`.
enum ErrorMapping {
    static func problem(for error: any Error) -> Problem {
        switch error {
        case let problem as Problem:
            return problem
        case let error as AuthError:
            return problem(for: error)
        case let error as WebhookSignatureError:
            return Problem(.invalidSignature, error.description)
        case let error as JobError:
            switch error {
            case .notFound: return Problem(.notFound, error.description)
            case .unknownKind, .invalidArguments: return Problem(.invalidRequest, error.description)
            case .wrongState: return Problem(.notReady, error.description)
            }
        case let error as PaymentWebhookError:
            return Problem(.invalidRequest, error.description)
        case is SigningKeyError:
            // The operator's problem (a missing key file), not the client's: the log names the file.
            return Problem(.serviceUnavailable, "the server cannot sign tokens: its signing key is not available", headers: [.retryAfter: "60"])
        case let error as DecodingError:
            return DecodingErrorText.isSyntaxError(error)
                ? Problem(.malformedJSON, DecodingErrorText.describe(error))
                : Problem(.invalidRequest, DecodingErrorText.describe(error))
        case is NIOTooManyBytesError:
            return tooLarge
        case let error as HTTPError:
            return problem(for: error)
        case let error where StorageFault.classify(error) != nil:
            switch StorageFault.classify(error)! {
            case .busy:
                return Problem(.serviceUnavailable, "the database is busy; retry shortly", headers: [.retryAfter: "1"])
            case .diskFull:
                return Problem(.serviceUnavailable, "the server's disk is full", headers: [.retryAfter: "60"])
            case .corrupt:
                return corrupt
            case .cannotWrite:
                return Problem(.serviceUnavailable, "the server cannot write its database right now", headers: [.retryAfter: "30"])
            case .unavailable:
                return Problem(.serviceUnavailable, "the server's database is unreachable; retry shortly", headers: [.retryAfter: "5"])
            case .timedOut:
                return Problem(.serviceUnavailable, "the database took too long; retry shortly", headers: [.retryAfter: "5"])
            }
        default:
            return Problem(.internalError, "the request could not be completed")
        }
    }

    /// With `Connection: close`: the rest of an oversized body is never read, so the connection
    /// cannot carry another request (`ConnectionGuard` closes it after the answer).
    /// The file's damage is the operator's to repair (`/healthz` says what SQLite found); a
    /// client can only come back later. No detail: paths and page numbers are not the client's.
    static let corrupt = Problem(.serviceUnavailable, "the server's database needs repair; try again later", headers: [.retryAfter: "300"])

    static let tooLarge = Problem(.bodyTooLarge, "request bodies are limited to \(GatehouseRequestContext.maxBodyBytes / 1024) KiB",
                                  headers: [.connection: "close"])

    private static func problem(for error: AuthError) -> Problem {
        switch error {
        case .invalidEmail(let why):
            return Problem(.invalidEmail, why)
        case .rateLimited(let decision):
            return Problem(.rateLimited, error.description, headers: RateLimitHeaders.fields(for: decision),
                           extensions: ["policy": decision.policy.name])
        case .invalidCredential(let failure):
            return Problem(.invalidCredential, "the credential was refused (\(failure.rawValue))",
                           extensions: ["reason": failure.rawValue])
        case .notFound(let what):
            return Problem(.notFound, "\(what) not found")
        }
    }

    /// Hummingbird's own errors: an unmatched route, a body it refused to read.
    private static func problem(for error: HTTPError) -> Problem {
        switch error.status.code {
        case 404: Problem(.notFound, "no such route")
        case 413: tooLarge
        case 415: Problem(.unsupportedMediaType, error.body ?? "unsupported media type")
        case 400..<500: Problem(.invalidRequest, error.body ?? error.status.reasonPhrase)
        default: Problem(.internalError, "the request could not be completed")
        }
    }
}
