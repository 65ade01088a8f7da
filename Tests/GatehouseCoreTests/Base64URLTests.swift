import Foundation
import Testing
@testable import GatehouseCore

@Suite("Base64URL")
struct Base64URLTests {
    @Test("the hand-rolled encoder agrees with Foundation's base64 (URL alphabet, no padding) at every length")
    func agreesWithFoundation() {
        var generator = SystemRandomNumberGenerator()
        for length in 0..<100 {
            let bytes = (0..<length).map { _ in UInt8.random(in: 0...255, using: &generator) }
            let expected = Data(bytes).base64EncodedString()
                .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
            let encoded = Base64URL.encode(bytes)
            #expect(encoded == expected, "length \(length)")
            #expect(Base64URL.decode(encoded) == Data(bytes))
        }
    }
}

@Suite("Canonical JSON for audit details")
struct CanonicalJSONTests {
    @Test("the same bytes as JSONEncoder (sorted keys, unescaped slashes) for ordinary and hostile values")
    func matchesJSONEncoder() throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let samples: [[String: String]] = [
            ["token": "a1b2c3d4e5f6", "successor": "0a0b0c0d0e0f"],
            ["via": "console", "ssh_client": "203.0.113.9", "family": "fam_abc"],
            ["quote": "say \"hi\"", "backslash": "C:\\path", "slash": "a/b", "newline": "a\nb\tc\r", "bell": "\u{07}\u{1F}"],
            ["unicode": "é 漢字 🙂", "empty": ""],
        ]
        for sample in samples {
            let expected = String(decoding: try encoder.encode(sample), as: UTF8.self)
            let parsed = try JSONSerialization.jsonObject(with: Data(CanonicalJSON.object(sample).utf8)) as? [String: String]
            #expect(parsed == sample)
            #expect(CanonicalJSON.object(sample) == expected)
        }
    }
}
