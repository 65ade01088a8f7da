import Crypto
import Foundation

/// Why a webhook delivery was refused before its body was trusted.
public enum WebhookSignatureError: Error, Equatable, CustomStringConvertible {
    case missingHeader
    /// The header is not `t=…,v1=…`.
    case malformedHeader(String)
    /// The timestamp is further than the tolerance from now (a replayed or delayed delivery).
    case stale(secondsOff: Int, tolerance: Int)
    /// No `v1` signature matches the body under the configured secret.
    case mismatch

    public var description: String {
        switch self {
        case .missingHeader: "the Stripe-Signature header is missing"
        case .malformedHeader(let why): "the Stripe-Signature header is malformed: \(why)"
        case .stale(let off, let tolerance): "the signature timestamp is \(off) s from now (tolerance \(tolerance) s)"
        case .mismatch: "no v1 signature matches the body"
        }
    }
}

/// Stripe's webhook signature scheme: `Stripe-Signature: t=TIMESTAMP,v1=HEX[,v1=HEX…]`, each
/// `v1` an HMAC-SHA256 of `"{t}.{raw body}"` keyed with the endpoint secret (the whole
/// `whsec_…` string). Several `v1` values appear while a secret is being rolled.
public struct WebhookSignature: Sendable {
    public static let defaultTolerance: TimeInterval = 300

    public let secret: String
    public let tolerance: TimeInterval

    public init(secret: String, tolerance: TimeInterval = Self.defaultTolerance) {
        self.secret = secret
        self.tolerance = tolerance
    }

    /// `v1` values looked at; Stripe sends one, two while a secret is rolled. More are ignored,
    /// so a header full of them costs what a normal one does.
    public static let maxSignatures = 8

    /// Checks `header` against the exact bytes received. The body is MACed once, whatever the
    /// header holds; each candidate is compared in constant time.
    public func verify(header: String?, body: Data, now: Date) throws(WebhookSignatureError) {
        guard let header, !header.isEmpty else { throw .missingHeader }
        var timestamp: Int?
        var signatures: [Data] = []
        for item in header.split(separator: ",", maxSplits: 64, omittingEmptySubsequences: true).prefix(64) {
            let pair = item.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            guard pair.count == 2 else { throw .malformedHeader("'\(item.prefix(20))' is not key=value") }
            switch pair[0] {
            case "t":
                guard let value = Int(pair[1]) else { throw .malformedHeader("t is not a number") }
                timestamp = value
            case "v1":
                // A value that is not hex cannot match; it is skipped like an unknown scheme.
                if signatures.count < Self.maxSignatures, let bytes = Fingerprint.bytes(hex: pair[1]) { signatures.append(bytes) }
            default:
                continue // v0 and future schemes are ignored, as Stripe's libraries do.
            }
        }
        guard let timestamp else { throw .malformedHeader("no t= timestamp") }
        let off = abs(now.timeIntervalSince1970 - TimeInterval(timestamp))
        guard off <= tolerance else { throw .stale(secondsOff: Int(off.rounded()), tolerance: Int(tolerance)) }
        var signed = Data("\(timestamp).".utf8)
        signed.append(body)
        let expected = Data(HMAC<SHA256>.authenticationCode(for: signed, using: SymmetricKey(data: Data(secret.utf8))))
        guard signatures.contains(where: { Self.constantTimeEqual($0, expected) }) else { throw .mismatch }
    }

    /// Equal in a time that depends on the lengths only, never on where the bytes differ.
    static func constantTimeEqual(_ a: Data, _ b: Data) -> Bool {
        guard a.count == b.count else { return false }
        var difference: UInt8 = 0
        for (x, y) in zip(a, b) { difference |= x ^ y }
        return difference == 0
    }

    /// The header a sender would write: for tests, the demo's simulator and `curl` walk-throughs.
    public func header(for body: Data, at time: Date) -> String {
        let timestamp = Int(time.timeIntervalSince1970)
        var signed = Data("\(timestamp).".utf8)
        signed.append(body)
        let mac = HMAC<SHA256>.authenticationCode(for: signed, using: SymmetricKey(data: Data(secret.utf8)))
        return "t=\(timestamp),v1=\(Fingerprint.hex(Data(mac)))"
    }
}
