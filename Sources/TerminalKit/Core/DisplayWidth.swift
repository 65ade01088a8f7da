import CNCursesW
import Foundation

/// How many terminal columns text takes once drawn, by grapheme cluster: wide East Asian
/// characters and emoji (with their modifiers, joiners and variation selectors) two, combining
/// marks none, from the C library's `wcwidth` (Unicode's East Asian Width, UAX #11, and UTS #51
/// for emoji presentation). A character `TerminalText` neutralises takes the width of its
/// visible escape, since that is what is drawn. The console's buffer and the CLI's tables both
/// measure with this, so their columns line up the same way.
public enum DisplayWidth {
    /// `wcwidth` answers by the locale's character type; a C or POSIX locale would call every
    /// non-ASCII character unprintable. Ensure a UTF-8 LC_CTYPE once.
    private static let localeReady: Bool = {
        let current = String(cString: nl_langinfo(nl_item(CODESET)))
        if current.uppercased() != "UTF-8" {
            if setlocale(LC_CTYPE, "C.UTF-8") == nil { _ = setlocale(LC_CTYPE, "en_US.UTF-8") }
        }
        return true
    }()

    /// Columns of one grapheme cluster: the width of its first scalar, widened to 2 for emoji
    /// presentation (U+FE0F) and flag (regional-indicator pair) sequences; an unsafe control or
    /// format character counts as its escape (`\x1B` is 4).
    public static func of(_ character: Character) -> Int {
        // Printable ASCII alone (not the start of a keycap sequence such as 1️⃣): by far the most common.
        if let ascii = character.asciiValue, ascii >= 0x20 && ascii < 0x7f { return 1 }
        if let escape = TerminalText.escape(character) { return of(escape) }
        return ofSafe(character)
    }

    /// Columns of a cluster known to hold nothing `TerminalText` escapes (the caller checked).
    static func ofSafe(_ character: Character) -> Int {
        if let ascii = character.asciiValue, ascii >= 0x20 && ascii < 0x7f { return 1 }
        guard let first = character.unicodeScalars.first else { return 0 }
        _ = localeReady
        let scalars = character.unicodeScalars
        if scalars.contains(where: { $0.value == 0xFE0F }) { return 2 }
        if (0x1F1E6...0x1F1FF).contains(first.value), scalars.count > 1 { return 2 }
        let width = Int(gh_wcwidth(wchar_t(bitPattern: first.value)))
        return width < 0 ? 1 : width
    }

    public static func of(_ text: String) -> Int {
        // Printable ASCII (most cells of most tables): one column a byte, no cluster walk.
        if text.utf8.allSatisfy({ $0 >= 0x20 && $0 < 0x7f }) { return text.utf8.count }
        var total = 0
        for character in text { total += of(character) }
        return total
    }

    /// The longest prefix of `text` that fits in `columns`, with `…` when something was cut.
    public static func truncate(_ text: String, to columns: Int, ellipsis: Bool = true) -> String {
        guard columns > 0 else { return "" }
        if of(text) <= columns { return text }
        let budget = ellipsis ? columns - 1 : columns
        var result = ""
        var used = 0
        for character in text {
            let width = of(character)
            if used + width > budget { break }
            result.append(character)
            used += width
        }
        return ellipsis ? result + "…" : result
    }

    /// `text` cut or padded with spaces to exactly `columns`.
    public static func fit(_ text: String, to columns: Int, alignRight: Bool = false) -> String {
        let cut = truncate(text, to: columns)
        let padding = String(repeating: " ", count: max(0, columns - of(cut)))
        return alignRight ? padding + cut : cut + padding
    }
}
