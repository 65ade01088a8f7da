import Foundation
import JWTKit

/// The JSON encoder jwt-kit signs Gatehouse's access tokens with: the claims
/// (`AccessTokenClaims`) and a header of string fields (`alg`, `kid`, `typ`) are written
/// directly, anything else through Foundation's `JSONEncoder` (`fallback`).
///
/// Why: Foundation's generic encoder was 8% of a whole refresh rotation (`perf record -g
/// gatehouse-bench hot rotation`: `JSONEncoder.encode` under `JWTSerializer.makeSigningInput`,
/// more than the ES256 signature), for two small objects whose shape is fixed. The output is
/// RFC 8259 JSON (strings escaped as §7 requires) that any JWT library reads; dates are whole
/// seconds (NumericDate, RFC 7519 §2), as `fallback`'s `.integerSecondsSince1970` writes them.
struct TokenJSONEncoder: JWTJSONEncoder {
    let fallback: JSONEncoder

    func encode<T: Encodable>(_ value: T) throws -> Data {
        if let claims = value as? AccessTokenClaims { return Self.json(claims) }
        if let header = value as? JWTHeader, let json = Self.json(header) { return json }
        return try fallback.encode(value)
    }

    static func json(_ claims: AccessTokenClaims) -> Data {
        var object = Object()
        object.add("iss", string: claims.iss.value)
        object.add("sub", string: claims.sub.value)
        object.add("sid", string: claims.sid)
        object.add("iat", seconds: claims.iat.value)
        object.add("exp", seconds: claims.exp.value)
        object.add("jti", string: claims.jti.value)
        return object.data
    }

    /// A header whose fields are all strings; nil for any other (written by `fallback`).
    static func json(_ header: JWTHeader) -> Data? {
        var object = Object()
        for (name, field) in header.fields.sorted(by: { $0.key < $1.key }) {
            guard case .string(let value) = field else { return nil }
            object.add(name, string: value)
        }
        return object.data
    }

    /// One JSON object, member by member.
    private struct Object {
        private var text = "{"
        private var empty = true

        var data: Data { Data((text + "}").utf8) }

        mutating func add(_ name: String, string value: String) {
            key(name)
            Self.quote(&text, value)
        }

        mutating func add(_ name: String, seconds date: Date) {
            key(name)
            text += String(Int64(date.timeIntervalSince1970.rounded(.down)))
        }

        private mutating func key(_ name: String) {
            if !empty { text += "," }
            empty = false
            Self.quote(&text, name)
            text += ":"
        }

        /// A JSON string (RFC 8259 §7): quotation mark, reverse solidus and the control
        /// characters escaped; everything else as it is (UTF-8).
        private static func quote(_ out: inout String, _ text: String) {
            out += "\""
            for scalar in text.unicodeScalars {
                switch scalar {
                case "\"": out += "\\\""
                case "\\": out += "\\\\"
                case "\n": out += "\\n"
                case "\r": out += "\\r"
                case "\t": out += "\\t"
                case _ where scalar.value < 0x20:
                    out += "\\u00" + (scalar.value < 0x10 ? "0" : "") + String(scalar.value, radix: 16)
                default: out.unicodeScalars.append(scalar)
                }
            }
            out += "\""
        }
    }
}
