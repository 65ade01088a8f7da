/// Punycode decoding (RFC 3492), for the A-labels (`xn--…`) of internationalised domain names
/// (RFC 5890): `xn--bcher-kva` is `bücher`. Only decoding: Gatehouse stores domains in their
/// Unicode form, so an address typed either way is one address.
enum Punycode {
    // RFC 3492 §5: the Bootstring parameters for Punycode.
    private static let base = 36, tMin = 1, tMax = 26, skew = 38, damp = 700, initialBias = 72, initialN = 0x80

    /// The Unicode text of a Punycode string (without its `xn--` prefix); nil when it is not valid
    /// Punycode (a bad digit, an overflow, a code point that is not a scalar).
    static func decode(_ input: Substring) -> String? {
        let bytes = Array(input.utf8)
        guard bytes.allSatisfy({ $0 < 0x80 }) else { return nil }
        // Basic code points come before the last delimiter, as they are; the delimiter is consumed
        // only when some precede it (RFC 3492 §6.2: "-abc" has no basic code points and is invalid).
        let basic = bytes.lastIndex(of: UInt8(ascii: "-")) ?? 0
        var output: [Unicode.Scalar] = bytes[..<basic].map { Unicode.Scalar($0) }
        var position = basic > 0 ? basic + 1 : 0
        var n = initialN, i = 0, bias = initialBias
        while position < bytes.count {
            let oldI = i
            var weight = 1
            var k = base
            while true {
                guard position < bytes.count, let digit = digitValue(bytes[position]) else { return nil }
                position += 1
                let (product, overflow) = digit.multipliedReportingOverflow(by: weight)
                guard !overflow, i <= Int(Int32.max) - product else { return nil }
                i += product
                let t = k <= bias ? tMin : (k >= bias + tMax ? tMax : k - bias)
                if digit < t { break }
                let (next, overflowWeight) = weight.multipliedReportingOverflow(by: base - t)
                guard !overflowWeight, next <= Int(Int32.max) else { return nil }
                weight = next
                k += base
            }
            bias = adapt(delta: i - oldI, points: output.count + 1, first: oldI == 0)
            n += i / (output.count + 1)
            i %= output.count + 1
            guard n <= 0x10FFFF, let scalar = Unicode.Scalar(n) else { return nil }
            output.insert(scalar, at: i)
            i += 1
        }
        var text = ""
        text.unicodeScalars.append(contentsOf: output)
        return text
    }

    private static func digitValue(_ byte: UInt8) -> Int? {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"): Int(byte - UInt8(ascii: "a"))
        case UInt8(ascii: "A")...UInt8(ascii: "Z"): Int(byte - UInt8(ascii: "A"))
        case UInt8(ascii: "0")...UInt8(ascii: "9"): Int(byte - UInt8(ascii: "0")) + 26
        default: nil
        }
    }

    /// RFC 3492 §6.1.
    private static func adapt(delta: Int, points: Int, first: Bool) -> Int {
        var delta = first ? delta / damp : delta / 2
        delta += delta / points
        var k = 0
        while delta > ((base - tMin) * tMax) / 2 {
            delta /= base - tMin
            k += base
        }
        return k + (base - tMin + 1) * delta / (delta + skew)
    }
}
