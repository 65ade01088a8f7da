/// One terminal cell: a grapheme and its style. A wide grapheme occupies its cell and the next,
/// which holds a continuation marker so the two are always drawn, and overwritten, together.
public struct Cell: Sendable, Hashable {
    public var text: String
    public var style: Style
    /// True for the right half of a double-width grapheme.
    public var isContinuation: Bool

    public init(_ text: String = " ", style: Style = .plain, isContinuation: Bool = false) {
        self.text = text
        self.style = style
        self.isContinuation = isContinuation
    }

    public static let blank = Cell()
}

/// A frame: a grid of cells that widgets draw into. The terminal sends only the cells that
/// differ from the previous frame.
public struct Buffer: Sendable, Equatable {
    public private(set) var size: Size
    public private(set) var cells: [Cell]

    public init(size: Size, fill: Cell = .blank) {
        self.size = size
        cells = Array(repeating: fill, count: max(0, size.width * size.height))
    }

    public var area: Rect { Rect(x: 0, y: 0, width: size.width, height: size.height) }

    public subscript(x: Int, y: Int) -> Cell {
        get { cells[y * size.width + x] }
        set { cells[y * size.width + x] = newValue }
    }

    func contains(_ x: Int, _ y: Int) -> Bool { x >= 0 && y >= 0 && x < size.width && y < size.height }

    /// Writes `text` from (x, y), clipped to `maxWidth` columns and the buffer's edge. A wide
    /// grapheme that would straddle the limit is replaced by a space rather than split. Control and
    /// bidi characters are drawn as `TerminalText`'s visible escapes: nothing put here can move
    /// the cursor, retitle the terminal or reorder the line. Returns the number of columns written.
    @discardableResult
    public mutating func put(_ text: String, x: Int, y: Int, style: Style = .plain, maxWidth: Int? = nil) -> Int {
        guard y >= 0, y < size.height else { return 0 }
        let limit = min(size.width, x + (maxWidth ?? size.width))
        var column = x
        for character in text {
            // A control or bidi character is drawn as its visible escape, never sent. Printable
            // ASCII, nearly every cell, skips the check.
            let plainASCII = character.asciiValue.map { $0 >= 0x20 && $0 < 0x7f } ?? false
            if !plainASCII, let escape = TerminalText.escape(character) {
                // Whole or not at all, as `DisplayWidth.truncate` cuts: half an escape reads as something else.
                guard column + DisplayWidth.of(escape) <= limit else { break }
                column += put(escape, x: column, y: y, style: style, maxWidth: limit - column)
                continue
            }
            let width = plainASCII ? 1 : DisplayWidth.ofSafe(character)
            if width == 0 { continue }
            if column + width > limit {
                if column < limit { setCell(column, y, Cell(" ", style: style)); column += 1 }
                break
            }
            if column >= 0 {
                setCell(column, y, Cell(String(character), style: style))
                if width == 2 { setCell(column + 1, y, Cell("", style: style, isContinuation: true)) }
            }
            column += width
        }
        return column - x
    }

    /// Sets one cell, repairing any wide grapheme it cuts in half.
    private mutating func setCell(_ x: Int, _ y: Int, _ cell: Cell) {
        guard contains(x, y) else { return }
        let old = self[x, y]
        if old.isContinuation, x > 0 { self[x - 1, y] = Cell(" ", style: self[x - 1, y].style) }
        if !old.isContinuation, x + 1 < size.width, self[x + 1, y].isContinuation, !cell.isContinuation {
            self[x + 1, y] = Cell(" ", style: self[x + 1, y].style)
        }
        self[x, y] = cell
    }

    /// Fills `rect` with spaces in `style`.
    public mutating func fill(_ rect: Rect, style: Style = .plain) {
        for y in max(0, rect.y)..<min(size.height, rect.maxY) {
            for x in max(0, rect.x)..<min(size.width, rect.maxX) { setCell(x, y, Cell(" ", style: style)) }
        }
    }

    /// Draws a single-line box (Unicode box drawing) around `rect` with an optional title.
    public mutating func box(_ rect: Rect, style: Style = .plain, title: String? = nil) {
        guard rect.width >= 2, rect.height >= 2 else { return }
        let horizontal = String(repeating: "─", count: rect.width - 2)
        put("┌" + horizontal + "┐", x: rect.x, y: rect.y, style: style)
        put("└" + horizontal + "┘", x: rect.x, y: rect.maxY - 1, style: style)
        for y in (rect.y + 1)..<(rect.maxY - 1) {
            put("│", x: rect.x, y: y, style: style)
            put("│", x: rect.maxX - 1, y: y, style: style)
        }
        if let title, rect.width > 4 {
            put(" \(title) ", x: rect.x + 2, y: rect.y, style: style.with(.bold), maxWidth: rect.width - 4)
        }
    }

    /// The text of row `y`, without styles: what a golden-screen test compares.
    public func line(_ y: Int) -> String {
        var text = ""
        for x in 0..<size.width where !self[x, y].isContinuation { text += self[x, y].text }
        return text
    }

    /// Every row, trailing spaces removed, joined by newlines.
    public var text: String {
        (0..<size.height).map { String(line($0).droppingTrailingSpaces()) }.joined(separator: "\n")
    }

    /// The runs of cells that differ from `previous` (everything when the sizes differ).
    public func changes(since previous: Buffer?) -> [CellRun] {
        var runs: [CellRun] = []
        let full = previous?.size != size
        for y in 0..<size.height {
            var x = 0
            while x < size.width {
                let differs = full || self[x, y] != previous![x, y]
                guard differs else { x += 1; continue }
                var end = x
                while end < size.width && (full || self[end, y] != previous![end, y]) { end += 1 }
                // Never start or end a run in the middle of a wide grapheme.
                var start = x
                if self[start, y].isContinuation, start > 0 { start -= 1 }
                if end < size.width, self[end, y].isContinuation { end += 1 }
                runs.append(CellRun(x: start, y: y, cells: Array(cells[(y * size.width + start)..<(y * size.width + end)])))
                x = end
            }
        }
        return runs
    }

    /// Gives cells that use the terminal's default colours the theme's text and background.
    public mutating func applyBase(_ base: Style) {
        guard base.foreground != .default || base.background != .default else { return }
        for index in cells.indices {
            if cells[index].style.foreground == .default { cells[index].style.foreground = base.foreground }
            if cells[index].style.background == .default { cells[index].style.background = base.background }
        }
    }
}

/// Consecutive changed cells of one row.
public struct CellRun: Sendable, Equatable {
    public var x: Int
    public var y: Int
    public var cells: [Cell]
}

extension StringProtocol {
    /// The text without the spaces at its end.
    func droppingTrailingSpaces() -> SubSequence {
        var end = endIndex
        while end > startIndex, self[index(before: end)] == " " { end = index(before: end) }
        return self[startIndex..<end]
    }

}
