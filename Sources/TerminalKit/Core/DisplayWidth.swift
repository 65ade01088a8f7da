import CNCursesW
import Foundation

/// How many terminal columns text takes, from the C library's `wcwidth`, so that CJK and emoji
/// take two columns and combining marks none, exactly as the terminal will draw them.
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
    /// presentation sequences; 0 for control characters (they are never drawn).
    public static func of(_ character: Character) -> Int {
        _ = localeReady
        guard let first = character.unicodeScalars.first else { return 0 }
        if first.value < 0x20 || (0x7f..<0xa0).contains(first.value) { return 0 }
        if first.isASCII { return 1 }
        if character.unicodeScalars.contains(where: { $0.value == 0xFE0F }) { return 2 }
        let width = Int(gh_wcwidth(wchar_t(bitPattern: first.value)))
        return width < 0 ? 1 : width
    }

    public static func of(_ text: String) -> Int {
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
