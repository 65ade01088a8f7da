#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// IP addresses as text, parsed and printed by the C library (`inet_pton`/`inet_ntop`: the
/// grammar of RFC 4291 §2.2 and dotted-quad IPv4), not by a hand-written pattern.
public enum IPAddressText {
    /// The canonical form of an IPv4 or IPv6 address (`2001:DB8:0::1` → `2001:db8::1`), or nil
    /// for anything else: names, ports, brackets, zone ids, empty text.
    public static func canonical(_ text: String) -> String? {
        guard !text.isEmpty, text.utf8.count <= 45 else { return nil }
        var v4 = in_addr()
        if inet_pton(AF_INET, text, &v4) == 1 { return format(AF_INET, &v4, length: Int(INET_ADDRSTRLEN)) }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, text, &v6) == 1 { return format(AF_INET6, &v6, length: Int(INET6_ADDRSTRLEN)) }
        return nil
    }

    /// The key per-address rate limits use: an IPv4 address as it is; an IPv6 address by its
    /// /64 (`2001:db8:1:2::/64`), the block one subscriber or host is given (RFC 6177), so a
    /// client cannot get a fresh budget from each of its 2^64 addresses. Other text as it is.
    public static func rateLimitKey(_ text: String) -> String {
        var v6 = in6_addr()
        guard text.contains(":"), inet_pton(AF_INET6, text, &v6) == 1 else { return text }
        withUnsafeMutableBytes(of: &v6) { bytes in
            for index in 8..<16 { bytes[index] = 0 }
        }
        return (format(AF_INET6, &v6, length: Int(INET6_ADDRSTRLEN)) ?? text) + "/64"
    }

    private static func format<Address>(_ family: Int32, _ address: inout Address, length: Int) -> String? {
        var buffer = [CChar](repeating: 0, count: length)
        guard inet_ntop(family, &address, &buffer, socklen_t(length)) != nil else { return nil }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
