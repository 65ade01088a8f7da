/// A bar chart of counts in block characters (▁▂▃▄▅▆▇█), one column per value, `height` rows
/// tall: eight levels a row. Scaled to its own largest value; a value above zero always shows
/// at least the lowest block, so one event in an hour is not lost to rounding.
public struct Sparkline {
    public var values: [Int]
    public var style = Style.plain
    /// Per-column style overrides (spikes, the selected column), by index into `values`.
    public var columnStyles: [Int: Style] = [:]

    static let blocks: [Character] = ["▁", "▂", "▃", "▄", "▅", "▆", "▇", "█"]

    public init(values: [Int]) { self.values = values }

    /// The block for `row` (0 is the bottom) of a column `level` eighths tall; nil is empty.
    static func block(level: Int, row: Int) -> Character? {
        let fill = min(8, max(0, level - row * 8))
        return fill == 0 ? nil : blocks[fill - 1]
    }

    /// The height of each value in eighths of a row, for `height` rows.
    public func levels(height: Int) -> [Int] {
        let top = max(1, values.max() ?? 1)
        let steps = height * 8
        return values.map { value in
            guard value > 0 else { return 0 }
            return max(1, min(steps, (value * steps + top - 1) / top))
        }
    }

    /// Draws the last `area.width` values, right-aligned, bottom row at the area's bottom.
    public func render(into buffer: inout Buffer, area: Rect) {
        guard area.width > 0, area.height > 0 else { return }
        let levels = levels(height: area.height)
        let shown = min(levels.count, area.width)
        let offset = levels.count - shown
        for column in 0..<shown {
            let index = offset + column
            let x = area.maxX - shown + column
            let style = columnStyles[index] ?? self.style
            for row in 0..<area.height {
                let y = area.maxY - 1 - row
                let text = Self.block(level: levels[index], row: row).map(String.init) ?? " "
                buffer.put(text, x: x, y: y, style: style, maxWidth: 1)
            }
        }
    }
}
