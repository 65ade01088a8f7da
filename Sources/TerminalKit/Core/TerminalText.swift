import Foundation

/// How text from outside the program (anything another process or a remote client wrote)
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
///   U+034F, U+115F, U+1160, U+180E, U+200B, U+2060–U+2064, U+3164, U+FEFF, U+FFA0 and
///   U+FFF9–U+FFFB, which make two different strings look alike;
/// - tag characters U+E0000–U+E007F (invisible "ASCII smuggling"), except inside an emoji tag
///   sequence (🏴 followed by tags: the flags of England, Scotland and Wales).
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
        for character in text {
            if multiline && (character == "\n" || character == "\t") {
                result.append(character)
            } else if let escape = escape(character) {
                result += escape
            } else {
                result.append(character)
            }
        }
        return result
    }

    /// True when a terminal could act on `scalar` rather than draw it (see the type's list).
    public static func isUnsafe(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.value {
        case 0x00...0x1F, 0x7F...0x9F: true
        case 0x061C, 0x200E, 0x200F, 0x202A...0x202E, 0x2066...0x2069: true
        case 0x2028, 0x2029, 0x00AD, 0x034F, 0x115F, 0x1160, 0x180E, 0x200B, 0x2060...0x2064, 0x3164, 0xFEFF, 0xFFA0,
             0xFFF9...0xFFFB: true
        case 0xE0000...0xE007F: true  // tags: allowed only inside an emoji tag sequence, see `escape(_: Character)`
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

    /// What stands for a grapheme cluster that holds an unsafe scalar: its safe scalars as they
    /// are, its unsafe ones as escapes; nil when the whole cluster is safe. Controls and most
    /// format characters are clusters of their own; tags and U+034F extend the one before them.
    static func escape(_ character: Character) -> String? {
        let scalars = character.unicodeScalars
        // Most clusters are one scalar (every cell of a box, most letters): answer those directly.
        var iterator = scalars.makeIterator()
        guard let first = iterator.next() else { return nil }
        if iterator.next() == nil { return escape(first) }
        let emojiTagSequence = scalars.first?.value == 0x1F3F4
        func unsafe(_ scalar: Unicode.Scalar) -> Bool {
            isUnsafe(scalar) && !(emojiTagSequence && (0xE0020...0xE007F).contains(scalar.value))
        }
        guard scalars.contains(where: unsafe) else { return nil }
        var shown = ""
        for scalar in scalars {
            if unsafe(scalar), let escape = escape(scalar) { shown += escape } else { shown.unicodeScalars.append(scalar) }
        }
        return shown
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
            guard scalar.value >= 0x7F && isUnsafe(scalar) else {
                result.unicodeScalars.append(scalar)
                continue
            }
            // Above the BMP (tags) as a UTF-16 surrogate pair, as JSON requires (RFC 8259 §7).
            for unit in String(scalar).utf16 {
                let hex = String(unit, radix: 16, uppercase: false)
                result += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            }
        }
        return result
    }

    /// The OSC 52 sequence that sets the clipboard ("c") to `text`, base64-encoded so that no byte
    /// of it can end the sequence early or be read as a control by the terminal.
    /// Source: xterm's ctlseqs, "Operating System Commands", Ps = 52.
    public static func osc52(_ text: String) -> String {
        "\u{1B}]52;c;" + Data(text.utf8).base64EncodedString() + "\u{07}"
    }
}
