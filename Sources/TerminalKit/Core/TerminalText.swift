/// How text from outside (user agents, emails, audit details, another writer of the database)
/// meets a terminal: the characters a terminal would obey instead of draw are shown as visible
/// escapes and never emitted. The console's `Buffer` and every human-readable line of the CLI
/// go through this one function; `--json` escapes the same characters as `\uXXXX`.
///
/// Neutralised, each shown as an escape:
/// - C0 controls U+0000–U+001F (tab and newline too, unless `multiline`), DEL U+007F and the
///   C1 controls U+0080–U+009F: ESC starts CSI/OSC sequences (retitling, OSC 52 clipboard
///   writes), BEL rings, C1 CSI/OSC (U+009B/U+009D) do the same on terminals that honour them;
/// - bidirectional embeddings, overrides, isolates and marks (U+061C, U+200E, U+200F,
///   U+202A–U+202E, U+2066–U+2069): they reorder what follows ("Trojan Source",
///   CVE-2021-42574, Unicode TR #9);
/// - the line and paragraph separators U+2028/U+2029 and the invisible characters U+00AD,
///   U+180E, U+200B, U+2060–U+2064 and U+FEFF, which make two different strings look alike.
///
/// Escapes are `\t`, `\n`, `\r`, `\xHH` up to U+00FF and `\u{HHHH}` above, so an operator can read
/// which character was there. Joiners and variation selectors that build emoji sequences are kept.
public enum TerminalText {
    /// `text` with every unsafe character replaced by its visible escape. With `multiline`, newline
    /// and tab pass (free text such as a pretty-printed document); table cells and one-line
    /// fields neutralise them too, so a value can never break its row.
    public static func neutralised(_ text: String, multiline: Bool = false) -> String {
        // Fast path: printable ASCII is by far the most common and needs nothing.
        if text.utf8.allSatisfy({ $0 >= 0x20 && $0 < 0x7f }) { return text }
        var result = ""
        result.reserveCapacity(text.utf8.count)
        for scalar in text.unicodeScalars {
            if multiline && (scalar == "\n" || scalar == "\t") {
                result.unicodeScalars.append(scalar)
            } else if let escape = escape(scalar) {
                result += escape
            } else {
                result.unicodeScalars.append(scalar)
            }
        }
        return result
    }

    /// True when a terminal could act on `scalar` rather than draw it (see the type's list).
    public static func isUnsafe(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.value {
        case 0x00...0x1F, 0x7F...0x9F: true
        case 0x061C, 0x200E, 0x200F, 0x202A...0x202E, 0x2066...0x2069: true
        case 0x2028, 0x2029, 0x00AD, 0x180E, 0x200B, 0x2060...0x2064, 0xFEFF: true
        default: false
        }
    }

    /// The visible escape of an unsafe scalar; nil for a safe one.
    public static func escape(_ scalar: Unicode.Scalar) -> String? {
        guard isUnsafe(scalar) else { return nil }
        switch scalar {
        case "\t": return "\\t"
        case "\n": return "\\n"
        case "\r": return "\\r"
        default:
            let hex = String(scalar.value, radix: 16, uppercase: true)
            return scalar.value <= 0xFF ? "\\x" + (hex.count == 1 ? "0" + hex : hex) : "\\u{\(hex)}"
        }
    }

    /// The escape that stands for a whole grapheme cluster, when the cluster is one unsafe scalar
    /// (Unicode's grapheme rules give every control and format character above a cluster of its
    /// own; CR LF is the one two-scalar control cluster).
    static func escape(_ character: Character) -> String? {
        let scalars = character.unicodeScalars
        guard let first = scalars.first, isUnsafe(first) else { return nil }
        return scalars.map { escape($0) ?? String($0) }.joined()
    }

    /// JSON text with the unsafe characters that JSON allows raw (DEL, C1, bidi, separators,
    /// invisibles) written as `\uXXXX` escapes. Valid because such characters can only stand
    /// inside JSON strings; the decoded value is unchanged. C0 is left alone: an encoder already
    /// escapes it inside strings, and outside them it is the document's own whitespace.
    public static func escapingJSON(_ json: String) -> String {
        if json.utf8.allSatisfy({ $0 < 0x7f }) { return json }
        var result = ""
        result.reserveCapacity(json.utf8.count)
        for scalar in json.unicodeScalars {
            if scalar.value >= 0x7F && isUnsafe(scalar) {
                let hex = String(scalar.value, radix: 16, uppercase: false)
                result += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            } else {
                result.unicodeScalars.append(scalar)
            }
        }
        return result
    }
}
