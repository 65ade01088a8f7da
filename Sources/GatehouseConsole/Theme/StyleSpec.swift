import TerminalKit

/// A style as theme files write it: attributes and colours in any order, the background after
/// `on`. `bold #5fafff on #1c1c1c`, `reverse`, `dim 244`, `bright-red`, `default on blue`.
///
/// Colours: `#rrggbb` (24-bit, degraded to what the terminal shows), `0`–`255` (the xterm
/// palette), the ANSI names (`black` … `white`, `bright-black` … `bright-white`), or `default`
/// (the terminal's own).
enum StyleSpec {
    static let attributes: [String: TextAttributes] = [
        "bold": .bold, "dim": .dim, "underline": .underline, "reverse": .reverse, "italic": .italic,
    ]
    static let ansiNames = ["black", "red", "green", "yellow", "blue", "magenta", "cyan", "white"]

    static func parse(_ text: String) throws(StyleSpecError) -> Style {
        var style = Style()
        var foregroundSet = false
        var words = text.lowercased().split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)[...]
        while let word = words.popFirst() {
            if let attribute = attributes[word] {
                style.attributes.insert(attribute)
            } else if word == "on" {
                guard let next = words.popFirst() else { throw .missingBackground }
                style.background = try color(next)
            } else {
                guard !foregroundSet else { throw .twoForegrounds(word) }
                style.foreground = try color(word)
                foregroundSet = true
            }
        }
        return style
    }

    static func color(_ word: String) throws(StyleSpecError) -> Color {
        if word == "default" { return .default }
        if word.hasPrefix("#") {
            let hex = word.dropFirst()
            guard hex.count == 6, let value = UInt32(hex, radix: 16) else { throw .badColor(word) }
            return .rgb(UInt8(value >> 16), UInt8((value >> 8) & 0xFF), UInt8(value & 0xFF))
        }
        if let index = Int(word) {
            guard (0...255).contains(index) else { throw .badColor(word) }
            return .indexed(UInt8(index))
        }
        let bright = word.hasPrefix("bright-")
        if let index = ansiNames.firstIndex(of: bright ? String(word.dropFirst(7)) : word) {
            return .ansi(UInt8(index + (bright ? 8 : 0)))
        }
        throw .badColor(word)
    }

    /// The spec that parses back to `style` (for `gatehouse console --list-themes` and tests).
    static func describe(_ style: Style) -> String {
        var words = attributes.sorted { $0.key < $1.key }.filter { style.attributes.contains($0.value) }.map(\.key)
        func name(_ color: Color) -> String {
            switch color {
            case .default: "default"
            case .ansi(let n): (n >= 8 ? "bright-" : "") + ansiNames[Int(n % 8)]
            case .indexed(let n): String(n)
            case .rgb(let r, let g, let b): "#" + [r, g, b].map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined()
            }
        }
        if style.foreground != .default { words.append(name(style.foreground)) }
        if style.background != .default { words += ["on", name(style.background)] }
        return words.isEmpty ? "default" : words.joined(separator: " ")
    }
}

enum StyleSpecError: Error, Equatable, CustomStringConvertible {
    case badColor(String)
    case missingBackground
    case twoForegrounds(String)

    var description: String {
        switch self {
        case .badColor(let word): "unknown colour or attribute '\(word)' (use #rrggbb, 0–255, an ANSI name such as bright-cyan, default, or bold/dim/underline/reverse/italic)"
        case .missingBackground: "'on' must be followed by a background colour"
        case .twoForegrounds(let word): "a second foreground colour '\(word)' (put 'on' before a background)"
        }
    }
}
