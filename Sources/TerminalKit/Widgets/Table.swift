/// A column of a `Table`: how wide it may be and how it grows.
public struct TableColumn: Sendable {
    public var title: String
    public var minWidth: Int
    public var maxWidth: Int
    /// Share of spare width this column takes; 0 keeps it at its content width.
    public var flex: Int
    public var alignRight: Bool

    public init(_ title: String, min: Int = 4, max: Int = 60, flex: Int = 0, alignRight: Bool = false) {
        self.title = title
        self.minWidth = min
        self.maxWidth = Swift.max(min, max)
        self.flex = flex
        self.alignRight = alignRight
    }
}

/// A table of the rows it is given (the caller pages: a table never holds more than a screen).
///
/// Column widths adapt to the area: content widths when they fit, flexible columns shrink to
/// their minimum when not, and columns that still do not fit are dropped from the right.
public struct Table {
    public var columns: [TableColumn]
    public var rows: [[String]]
    /// Per-row style overrides (new or changed rows, ended sessions), by index.
    public var rowStyles: [Int: Style] = [:]
    public var selected: Int?
    public var sortColumn: Int?
    public var sortAscending = false
    public var headerStyle = Style(attributes: [.bold, .underline])
    public var selectionStyle = Style(attributes: [.reverse])
    public var style = Style.plain

    public init(columns: [TableColumn], rows: [[String]]) {
        self.columns = columns
        self.rows = rows
    }

    static let gap = 2

    /// Widths for each column in `width` columns; 0 for a column that does not fit.
    public func columnWidths(for width: Int) -> [Int] {
        var desired = columns.enumerated().map { index, column in
            let content = rows.map { index < $0.count ? DisplayWidth.of($0[index]) : 0 }.max() ?? 0
            return min(column.maxWidth, max(column.minWidth, content, DisplayWidth.of(column.title) + (index == sortColumn ? 2 : 0)))
        }
        func total(_ widths: [Int]) -> Int {
            let shown = widths.filter { $0 > 0 }
            return shown.reduce(0, +) + max(0, shown.count - 1) * Self.gap
        }
        // Shrink flexible columns towards their minimum, rightmost (least important) first.
        for index in desired.indices.reversed() where columns[index].flex > 0 {
            let excess = total(desired) - width
            guard excess > 0 else { break }
            desired[index] -= min(excess, desired[index] - columns[index].minWidth)
        }
        // Drop columns from the right until the rest fit.
        var last = desired.count - 1
        while total(desired) > width && last > 0 {
            desired[last] = 0
            last -= 1
        }
        // Give what is left to flexible columns.
        var spare = width - total(desired)
        let flexible = desired.indices.filter { desired[$0] > 0 && columns[$0].flex > 0 }
        let weights = flexible.map { columns[$0].flex }.reduce(0, +)
        if spare > 0 && weights > 0 {
            let share = spare
            for index in flexible {
                let extra = share * columns[index].flex / weights
                desired[index] += extra
                spare -= extra
            }
            if let first = flexible.first { desired[first] += spare }
        }
        return desired
    }

    public func render(into buffer: inout Buffer, area: Rect) {
        guard area.height > 0, area.width > 0 else { return }
        buffer.fill(area, style: style)
        let widths = columnWidths(for: area.width)
        let header = columns.enumerated().map { index, column -> String in
            index == sortColumn ? column.title + (sortAscending ? " ↑" : " ↓") : column.title
        }
        drawRow(header, widths: widths, y: area.y, area: area, style: headerStyle, buffer: &buffer)
        let visible = min(rows.count, area.height - 1)
        for index in 0..<visible {
            var rowStyle = rowStyles[index] ?? style
            if index == selected { rowStyle = selectionStyle }
            let y = area.y + 1 + index
            buffer.fill(Rect(x: area.x, y: y, width: area.width, height: 1), style: rowStyle)
            drawRow(rows[index], widths: widths, y: y, area: area, style: rowStyle, buffer: &buffer)
        }
    }

    private func drawRow(_ cells: [String], widths: [Int], y: Int, area: Rect, style: Style, buffer: inout Buffer) {
        var x = area.x
        for (index, width) in widths.enumerated() where width > 0 {
            let text = index < cells.count ? cells[index] : ""
            buffer.put(DisplayWidth.fit(text, to: width, alignRight: columns[index].alignRight), x: x, y: y, style: style,
                       maxWidth: min(width, area.maxX - x))
            x += width + Self.gap
            if x >= area.maxX { break }
        }
    }
}
