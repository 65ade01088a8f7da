import Crypto
import Foundation

/// A bearer secret (magic-link token, refresh token, session cookie value).
///
/// Only `hash` is ever stored; `fingerprint` is what screens, logs and the audit log show.
/// 32 random bytes (256 bits), base64url without padding: 43 URL-safe characters.
public struct SecretToken: Sendable, Hashable {
    public static let byteCount = 32

    /// The value handed to the client. Never persist or log it.
    public let value: String

    public init(value: String) { self.value = value }

    /// A fresh random secret from BoringSSL's CSPRNG (one call, not one syscall per byte).
    public static func generate() -> SecretToken {
        let key = SymmetricKey(size: .bits256)
        return SecretToken(value: key.withUnsafeBytes { Base64URL.encode($0) })
    }

    /// A secret derived from another with a service key: the same input always gives the same
    /// output, so two racing refreshes of one token both receive the one successor.
    static func derive(from parent: SecretToken, key: SymmetricKey) -> SecretToken {
        let mac = HMAC<SHA256>.authenticationCode(for: Data(parent.value.utf8), using: key)
        return SecretToken(value: Base64URL.encode(Array(mac)))
    }

    /// True when the value has the shape of a secret we issue; anything else is "malformed"
    /// without a database lookup.
    public var isWellFormed: Bool {
        value.utf8.count == 43 && value.utf8.allSatisfy(Base64URL.isAlphabetByte)
    }

    public var hash: SecretHash { SecretHash(of: value) }
}

/// SHA-256 of a secret: the only form in which a secret is stored.
public struct SecretHash: Sendable, Hashable {
    public let bytes: Data

    public init(of secret: String) {
        bytes = Data(SHA256.hash(data: Data(secret.utf8)))
    }

    public init(bytes: Data) { self.bytes = bytes }

    /// The first 6 bytes in hex: enough to tell tokens apart on a screen, useless to an attacker.
    public var fingerprint: String { Fingerprint.of(bytes) }
}

/// Short, stable names for hashes, shown wherever a secret would otherwise appear.
public enum Fingerprint {
    public static let hexLength = 12

    public static func of(_ hashBytes: Data) -> String {
        hex(hashBytes.prefix(hexLength / 2))
    }

    private static let hexDigits = Array("0123456789abcdef".utf8)

    /// Lowercase hex; hand-rolled because `String(format:)` is slow on Linux and this is on
    /// every hot path that shows a hash.
    public static func hex<Bytes: Collection>(_ bytes: Bytes) -> String where Bytes.Element == UInt8 {
        var utf8: [UInt8] = []
        utf8.reserveCapacity(bytes.count * 2)
        for byte in bytes {
            utf8.append(hexDigits[Int(byte >> 4)])
            utf8.append(hexDigits[Int(byte & 0x0f)])
        }
        return String(decoding: utf8, as: UTF8.self)
    }

    /// The bytes spelled by an even number of hex digits (either case), or nil.
    static func bytes(hex text: String) -> Data? {
        let digits = Array(text.utf8)
        guard digits.count % 2 == 0, !digits.isEmpty else { return nil }
        var bytes = Data(capacity: digits.count / 2)
        var index = 0
        while index < digits.count {
            guard let high = nibble(digits[index]), let low = nibble(digits[index + 1]) else { return nil }
            bytes.append(high << 4 | low)
            index += 2
        }
        return bytes
    }

    private static func nibble(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }

    /// The byte range of hashes whose fingerprint starts with `prefix`, so that a lookup by
    /// fingerprint is a range scan of the unique hash index instead of a table scan.
    static func hashRange(forPrefix prefix: String) -> (lower: Data, upper: Data)? {
        guard prefix.utf8.count >= 4, prefix.utf8.count <= 64, let lower = bytes(hex: prefix) else { return nil }
        // upper = lower + 1 (as a big-endian number); a prefix of all 0xff has no upper bound
        // inside 32 bytes, so pad with 0xff past the maximum hash.
        var upper = lower
        var position = upper.count - 1
        while position >= 0 {
            if upper[position] == 0xff { upper[position] = 0; position -= 1 } else { upper[position] += 1; break }
        }
        if position < 0 { upper = Data(repeating: 0xff, count: 33) }
        return (lower, upper)
    }
}

/// Random, human-sized identifiers: session handles, refresh families.
enum Handle {
    private static let alphabet = Array("abcdefghjkmnpqrstuvwxyz23456789")

    /// `prefix` + 12 characters from an unambiguous alphabet (~59 bits), all from one 64-bit
    /// draw. Handles are identifiers, not secrets: uniqueness is what matters here.
    static func make(_ prefix: String) -> String {
        var generator = SystemRandomNumberGenerator()
        var bits = generator.next()
        var body: [Character] = []
        body.reserveCapacity(12)
        for _ in 0..<12 {
            body.append(alphabet[Int(bits % UInt64(alphabet.count))])
            bits /= UInt64(alphabet.count)
        }
        return prefix + String(body)
    }
}

/// RFC 4648 §5 base64url without padding.
enum Base64URL {
    private static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8)

    /// Hand-rolled: Foundation's base64 plus three `replacingOccurrences` cost more than the
    /// HMAC they encode, and this runs several times per refresh.
    static func encode<Bytes: Sequence>(_ bytes: Bytes) -> String where Bytes.Element == UInt8 {
        var input = Array(bytes)
        let count = input.count
        input.append(contentsOf: [0, 0])
        var output: [UInt8] = []
        output.reserveCapacity((count * 4 + 2) / 3)
        var index = 0
        while index < count {
            let chunk = UInt32(input[index]) << 16 | UInt32(input[index + 1]) << 8 | UInt32(input[index + 2])
            let characters = min(4, (count - index) * 4 / 3 + ((count - index) * 4 % 3 == 0 ? 0 : 1))
            for position in 0..<characters {
                output.append(alphabet[Int((chunk >> (18 - 6 * UInt32(position))) & 0x3f)])
            }
            index += 3
        }
        return String(decoding: output, as: UTF8.self)
    }

    static func decode(_ text: String) -> Data? {
        var base64 = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while base64.count % 4 != 0 { base64.append("=") }
        return Data(base64Encoded: base64)
    }

    static func isAlphabetByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
             UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "_"):
            return true
        default:
            return false
        }
    }
}
