/// A line of text in one style, for the scrollable text view.
public struct StyledLine: Sendable, Equatable {
    public var text: String
    public var style: Style
    public init(_ text: String, style: Style = .plain) {
        self.text = text
        self.style = style
    }
}

/// A scrollable view of lines: detail screens, help text, timelines.
public struct TextView: Sendable, Equatable {
    public var title: String
    public var lines: [StyledLine]
    public var offset = 0

    public init(title: String, lines: [StyledLine]) {
        self.title = title
        self.lines = lines
    }

    /// Scrolls for navigation keys; returns false for any other key.
    public mutating func handle(_ key: Key, pageHeight: Int) -> Bool {
        let maxOffset = max(0, lines.count - pageHeight)
        switch key {
        case .up, .character("k"): offset = max(0, offset - 1)
        case .down, .character("j"): offset = min(maxOffset, offset + 1)
        case .pageUp: offset = max(0, offset - pageHeight)
        case .pageDown, .character(" "): offset = min(maxOffset, offset + pageHeight)
        case .home, .character("g"): offset = 0
        case .end, .character("G"): offset = maxOffset
        default: return false
        }
        return true
    }

    public func render(into buffer: inout Buffer, area: Rect, border: Style = .plain) {
        buffer.fill(area)
        buffer.box(area, style: border, title: title)
        let inner = area.inset(by: 1)
        for row in 0..<inner.height {
            let index = offset + row
            guard index < lines.count else { break }
            buffer.put(lines[index].text, x: inner.x + 1, y: inner.y + row, style: lines[index].style, maxWidth: inner.width - 2)
        }
        if lines.count > inner.height {
            let position = "\(min(lines.count, offset + inner.height))/\(lines.count)"
            buffer.put(" \(position) ", x: area.maxX - DisplayWidth.of(position) - 4, y: area.maxY - 1, style: border)
        }
    }
}
