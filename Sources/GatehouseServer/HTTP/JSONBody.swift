import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// Reading JSON requests and writing JSON responses the way every route does.
///
/// Requiring `Content-Type: application/json` is also the API's CSRF defence for cookie
/// routes: a cross-site HTML form cannot send that type without a CORS preflight.
enum JSONBody {
    /// The raw body, refused with 413 past the limit (before reading it when the length is
    /// declared) and with 415 unless it is declared as JSON.
    static func raw(_ request: Request) async throws -> Data {
        try requireJSON(request)
        let limit = GatehouseRequestContext.maxBodyBytes
        if let declared = request.headers[.contentLength].flatMap(Int.init), declared > limit { throw ErrorMapping.tooLarge }
        var request = request
        let buffer = try await request.collectBody(upTo: limit)
        return Data(buffer.readableBytesView)
    }

    static func decode<T: Decodable>(_ type: T.Type, from request: Request) async throws -> T {
        let data = try await raw(request)
        // DecodingError is mapped to 400 malformed-json or invalid-request by ErrorMapping.
        return try JSONDecoder().decode(T.self, from: data)
    }

    private static func requireJSON(_ request: Request) throws {
        let declared = request.headers[.contentType]?.split(separator: ";").first?
            .trimmingCharacters(in: .whitespaces).lowercased()
        guard let declared, declared == "application/json" || (declared.hasPrefix("application/") && declared.hasSuffix("+json")) else {
            throw Problem(.unsupportedMediaType, "send the body as JSON with Content-Type: application/json")
        }
    }

    static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        // Sorted keys: the same answer is the same bytes, easy to diff and to quote in docs.
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .iso8601
        return encoder
    }()

    static func response(_ value: some Encodable, status: HTTPResponse.Status = .ok, headers: HTTPFields = [:],
                         contentType: String = "application/json") throws -> Response {
        let data = try encoder.encode(value)
        return response(bytes: data, status: status, headers: headers, contentType: contentType)
    }

    static func response(bytes: some Sequence<UInt8>, status: HTTPResponse.Status = .ok, headers: HTTPFields = [:],
                         contentType: String) -> Response {
        var fields = headers
        fields[.contentType] = contentType
        return Response(status: status, headers: fields, body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
    }
}
