/// The pane tabs: `1 Sessions  2 Tokens`, the current one highlighted.
public struct TabBar {
    public var titles: [String]
    public var selected: Int
    public var style = Style(attributes: [])
    public var selectedStyle = Style(attributes: [.reverse, .bold])

    public init(titles: [String], selected: Int) {
        self.titles = titles
        self.selected = selected
    }

    /// The columns the tabs take (what is left to their right may show a title).
    public var width: Int { titles.enumerated().reduce(0) { $0 + DisplayWidth.of(" \($1.offset + 1) \($1.element) ") + 1 } }

    public func render(into buffer: inout Buffer, area: Rect) {
        buffer.fill(area, style: style)
        var x = area.x
        for (index, title) in titles.enumerated() {
            let label = " \(index + 1) \(title) "
            x += buffer.put(label, x: x, y: area.y, style: index == selected ? selectedStyle : style, maxWidth: area.maxX - x)
            x += 1
            if x >= area.maxX { break }
        }
    }
}

/// Visible key hints: `d revoke  / filter  ? help`, keys emphasised, cut to the width.
public struct KeyHintBar {
    public var hints: [(key: String, label: String)]
    public var keyStyle = Style(attributes: [.bold])
    public var labelStyle = Style(attributes: [.dim])

    public init(hints: [(key: String, label: String)]) {
        self.hints = hints
    }

    public func render(into buffer: inout Buffer, area: Rect) {
        buffer.fill(area)
        var x = area.x
        for hint in hints {
            let needed = DisplayWidth.of(hint.key) + 1 + DisplayWidth.of(hint.label) + 2
            guard x + needed <= area.maxX else { break }
            x += buffer.put(hint.key, x: x, y: area.y, style: keyStyle)
            x += 1
            x += buffer.put(hint.label, x: x, y: area.y, style: labelStyle)
            x += 2
        }
    }
}
