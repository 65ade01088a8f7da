/// How many colours a terminal shows. Themes are written in 24-bit colour and degraded to this.
public enum ColorDepth: Int, Sendable, Comparable, CaseIterable {
    /// No colours: attributes only (vt100, `NO_COLOR`, `TERM=dumb`).
    case none = 0
    /// The 8 or 16 ANSI colours.
    case ansi16 = 16
    /// The xterm 256-colour palette.
    case indexed256 = 256
    /// 24-bit colour.
    case trueColor = 16_777_216

    public static func < (lhs: ColorDepth, rhs: ColorDepth) -> Bool { lhs.rawValue < rhs.rawValue }

    /// What a terminal offers: `terminfoColors` is the `colors` capability (`COLORS` in curses),
    /// `noColor` whether `NO_COLOR` is set and not empty (https://no-color.org). Truecolor needs
    /// a terminfo entry that can say it (a `*-direct` entry, chosen when COLORTERM announces the
    /// emulator can: `announcesTrueColor`); curses cannot send 24-bit colour otherwise.
    public static func detect(terminfoColors: Int, noColor: Bool) -> ColorDepth {
        if noColor || terminfoColors < 8 { return .none }
        if terminfoColors >= 16_777_216 { return .trueColor }
        if terminfoColors >= 256 { return .indexed256 }
        return .ansi16
    }

    /// True when COLORTERM announces 24-bit colour.
    public static func announcesTrueColor(_ colorTerm: String?) -> Bool {
        guard let value = colorTerm?.lowercased() else { return false }
        return value == "truecolor" || value == "24bit"
    }

    public var description: String {
        switch self {
        case .none: "no colours"
        case .ansi16: "16 colours"
        case .indexed256: "256 colours"
        case .trueColor: "truecolor"
        }
    }
}

extension Color {
    /// This colour as a terminal of `depth` can show it: 24-bit colours go to the nearest entry of
    /// the 256-colour palette, and that to the nearest of the 16; without colours, the default.
    public func degraded(to depth: ColorDepth) -> Color {
        switch (self, depth) {
        case (.default, _), (_, .trueColor): return self
        case (_, .none): return .default
        case (.ansi, _): return self
        case (.indexed(let n), .indexed256): return .indexed(n)
        case (.indexed(let n), .ansi16): return .ansi(ColorApproximation.ansi(forIndexed: n))
        case (.rgb(let r, let g, let b), .indexed256): return .indexed(ColorApproximation.indexed(r, g, b))
        case (.rgb(let r, let g, let b), .ansi16): return .ansi(ColorApproximation.ansi(r, g, b))
        }
    }

    /// The 24-bit value of this colour (xterm's palette for indexed and ANSI colours).
    public var rgbValue: (UInt8, UInt8, UInt8)? {
        switch self {
        case .default: nil
        case .ansi(let n): ColorApproximation.palette(Int(n % 16))
        case .indexed(let n): ColorApproximation.palette(Int(n))
        case .rgb(let r, let g, let b): (r, g, b)
        }
    }
}

/// Nearest-colour mapping between 24-bit colour, the xterm 256-colour palette and the 16 ANSI
/// colours. Distances are squared RGB with the usual weights for how the eye sees red and green.
public enum ColorApproximation {
    /// xterm's default 16 colours.
    static let ansiPalette: [(UInt8, UInt8, UInt8)] = [
        (0, 0, 0), (205, 0, 0), (0, 205, 0), (205, 205, 0), (0, 0, 238), (205, 0, 205), (0, 205, 205), (229, 229, 229),
        (127, 127, 127), (255, 0, 0), (0, 255, 0), (255, 255, 0), (92, 92, 255), (255, 0, 255), (0, 255, 255), (255, 255, 255),
    ]
    private static let cubeLevels: [Int] = [0, 95, 135, 175, 215, 255]

    /// The 24-bit value of a 256-palette entry.
    public static func palette(_ index: Int) -> (UInt8, UInt8, UInt8) {
        if index < 16 { return ansiPalette[index] }
        if index >= 232 {
            let level = UInt8(8 + (index - 232) * 10)
            return (level, level, level)
        }
        let cube = index - 16
        return (UInt8(cubeLevels[cube / 36]), UInt8(cubeLevels[(cube / 6) % 6]), UInt8(cubeLevels[cube % 6]))
    }

    static func distance(_ a: (UInt8, UInt8, UInt8), _ b: (UInt8, UInt8, UInt8)) -> Int {
        let dr = Int(a.0) - Int(b.0), dg = Int(a.1) - Int(b.1), db = Int(a.2) - Int(b.2)
        return 3 * dr * dr + 4 * dg * dg + 2 * db * db
    }

    /// The nearest entry of the 6×6×6 cube or the grey ramp (16–255; the first 16 differ from
    /// terminal to terminal, so they are never picked for a 24-bit colour).
    public static func indexed(_ r: UInt8, _ g: UInt8, _ b: UInt8) -> UInt8 {
        var best = 16, bestDistance = Int.max
        for index in 16...255 {
            let d = distance((r, g, b), palette(index))
            if d < bestDistance { best = index; bestDistance = d }
        }
        return UInt8(best)
    }

    /// The nearest of the 16 ANSI colours. Greys go by lightness alone: the dark greys themes use
    /// for backgrounds become black, and mid greys bright black, which stays visible on black.
    public static func ansi(_ r: UInt8, _ g: UInt8, _ b: UInt8) -> UInt8 {
        let high = max(r, g, b), low = min(r, g, b)
        if high - low < 24 {
            switch high {
            case ..<64: return 0
            case ..<160: return 8
            case ..<232: return 7
            default: return 15
            }
        }
        var best = 0, bestDistance = Int.max
        for (index, colour) in ansiPalette.enumerated() {
            let d = distance((r, g, b), colour)
            if d < bestDistance { best = index; bestDistance = d }
        }
        return UInt8(best)
    }

    /// The nearest ANSI colour of a 256-palette entry.
    public static func ansi(forIndexed index: UInt8) -> UInt8 {
        if index < 16 { return index }
        let (r, g, b) = palette(Int(index))
        return ansi(r, g, b)
    }
}
