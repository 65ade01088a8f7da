import Foundation

/// Email addresses as Gatehouse accepts them, normalised once so that every entry point (API,
/// CLI, console, jobs, webhooks) agrees on who a user is.
///
/// The rule, applied in this order:
/// - surrounding white space is dropped; exactly one `@`; at most 254 bytes in all (RFC 5321
///   §4.5.3.1), 1–64 before the `@`;
/// - the local part is Unicode NFC of its full case folding (Unicode's canonical caseless match,
///   §3.13: `Élodie`, `élodie` and `e` + U+0301 `lodie` are one mailbox; `Straße` is `strasse`).
///   RFC 5321 lets a server treat the local part as case-sensitive; no mail provider people
///   use does, and two accounts that differ by case are a support ticket, not a feature;
/// - the domain is mapped as UTS #46 (IDNA compatibility processing, non-transitional) maps it:
///   NFKC and lower case (full-width `ＥＸＡＭＰＬＥ．ｃｏｍ` is `example.com`), the ideographic
///   full stops U+3002, U+FF0E and U+FF61 are dots, one trailing root dot is dropped, and an
///   A-label (`xn--…`, RFC 3492 Punycode) is decoded, so the domain is stored in its Unicode form
///   (`xn--bcher-kva.example` is `bücher.example`);
/// - refused: white space, control and format characters (bidi controls, zero-width spaces and
///   joiners: they make two addresses look alike), and `<>()[],;:\"` anywhere; empty labels.
///
/// Deliberately simpler than RFC 5322: magic links go to addresses people type, and a quoted
/// local part with spaces is far more likely a mistake than a real mailbox.
public enum EmailAddress {
    /// The normalised address, or `AuthError.invalidEmail` saying what is wrong.
    public static func normalize(_ raw: String) throws(AuthError) -> String {
        let trimmed = raw.trimmingCharacters(in: .whitespacesAndNewlines)
        guard trimmed.utf8.count <= 1024 else { throw .invalidEmail("longer than 254 characters") }
        let parts = trimmed.split(separator: "@", omittingEmptySubsequences: false)
        guard parts.count == 2 else { throw .invalidEmail("needs exactly one @") }
        let local = normalizedLocalPart(parts[0])
        let domain = try normalizedDomain(parts[1])
        let email = local + "@" + domain
        // Mapping can make characters the checks above have not seen (NFKC turns ＠ into @).
        guard !local.contains("@"), !domain.contains("@") else { throw .invalidEmail("needs exactly one @") }
        guard email.utf8.count <= 254 else { throw .invalidEmail("longer than 254 characters") }
        guard !local.isEmpty, local.utf8.count <= 64 else { throw .invalidEmail("the part before @ must be 1–64 characters") }
        let forbidden = CharacterSet.whitespacesAndNewlines.union(.controlCharacters).union(CharacterSet(charactersIn: "<>()[],;:\\\""))
        guard email.unicodeScalars.allSatisfy({ !forbidden.contains($0) }) else {
            throw .invalidEmail("contains spaces, control characters or characters such as <>()[],;:\\\"")
        }
        return email
    }

    /// The normalised form of what an operator has typed so far (completion in the console):
    /// the same mapping as `normalize`, without the checks a partial address would fail.
    public static func normalizedPrefix(_ typed: String) -> String {
        let trimmed = typed.trimmingCharacters(in: .whitespaces)
        guard let at = trimmed.firstIndex(of: "@") else { return normalizedLocalPart(Substring(trimmed)) }
        let domain = trimmed[trimmed.index(after: at)...]
        return normalizedLocalPart(trimmed[..<at]) + "@" + mappedDomain(domain)
    }

    /// NFC of the full case folding of the canonical decomposition (Unicode §3.13, D145).
    static func normalizedLocalPart(_ local: Substring) -> String {
        String(local).decomposedStringWithCanonicalMapping
            .folding(options: [.caseInsensitive], locale: nil)
            .precomposedStringWithCanonicalMapping
    }

    /// NFKC, lower case, every full stop a dot (UTS #46 §4 mapping, the part that needs no table).
    private static func mappedDomain(_ domain: Substring) -> String {
        var mapped = String(domain).precomposedStringWithCompatibilityMapping.lowercased()
        for stop in ["\u{3002}", "\u{FF0E}", "\u{FF61}"] { mapped = mapped.replacingOccurrences(of: stop, with: ".") }
        return mapped.precomposedStringWithCanonicalMapping
    }

    private static func normalizedDomain(_ raw: Substring) throws(AuthError) -> String {
        var domain = mappedDomain(raw)
        if domain.hasSuffix(".") { domain.removeLast() }
        let labels = domain.split(separator: ".", omittingEmptySubsequences: false)
        guard labels.count >= 2, labels.allSatisfy({ !$0.isEmpty && $0.utf8.count <= 63 }) else {
            throw .invalidEmail("the domain must look like example.com (labels of 1–63 bytes)")
        }
        var decoded: [String] = []
        for label in labels {
            guard label.hasPrefix("xn--") else { decoded.append(String(label)); continue }
            // A valid A-label decodes to a U-label (UTS #46 §4.1): not plain ASCII, not another
            // A-label, no dot or @, and already in mapped form, so that normalising is idempotent.
            guard let unicode = Punycode.decode(label.dropFirst(4)), !unicode.isEmpty,
                  !unicode.unicodeScalars.allSatisfy(\.isASCII), !unicode.hasPrefix("xn--"),
                  !unicode.contains("."), !unicode.contains("@"),
                  mappedDomain(Substring(unicode)).utf8.elementsEqual(unicode.utf8) else {
                throw .invalidEmail("the domain label '\(label)' is not a valid A-label (RFC 3492 Punycode of a mapped Unicode label)")
            }
            decoded.append(unicode)
        }
        return decoded.joined(separator: ".")
    }
}
