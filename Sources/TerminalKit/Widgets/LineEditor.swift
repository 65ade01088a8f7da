/// One line of editable text: the `:` command line, the `/` filter, typed confirmations.
public struct LineEditor: Sendable, Equatable {
    public var text: String
    /// Cursor position in characters.
    public var cursor: Int

    public init(_ text: String = "") {
        self.text = text
        cursor = text.count
    }

    /// Applies an editing key; returns false for keys that are not editing (enter, esc, …).
    public mutating func handle(_ key: Key) -> Bool {
        switch key {
        case .character(let c):
            let index = text.index(text.startIndex, offsetBy: cursor)
            text.insert(c, at: index)
            cursor += 1
        case .backspace:
            guard cursor > 0 else { return true }
            let index = text.index(text.startIndex, offsetBy: cursor - 1)
            text.remove(at: index)
            cursor -= 1
        case .delete:
            guard cursor < text.count else { return true }
            text.remove(at: text.index(text.startIndex, offsetBy: cursor))
        case .left: cursor = max(0, cursor - 1)
        case .right: cursor = min(text.count, cursor + 1)
        case .home, .control("a"): cursor = 0
        case .end, .control("e"): cursor = text.count
        case .control("u"):
            text.removeFirst(cursor)
            cursor = 0
        case .control("w"):
            let before = text.prefix(cursor)
            let trimmed = before.droppingTrailingSpaces()
            let keep = trimmed.lastIndex(of: " ").map { trimmed[...$0] } ?? ""
            text = String(keep) + text.dropFirst(cursor)
            cursor = keep.count
        default:
            return false
        }
        return true
    }

    /// Draws `prompt` + text with a visible cursor cell.
    public func render(into buffer: inout Buffer, area: Rect, prompt: String, style: Style = .plain) {
        buffer.fill(area, style: style)
        var x = area.x + buffer.put(prompt, x: area.x, y: area.y, style: style.with(.bold), maxWidth: area.width)
        let before = String(text.prefix(cursor))
        x += buffer.put(before, x: x, y: area.y, style: style, maxWidth: area.maxX - x)
        let atCursor = cursor < text.count ? String(text[text.index(text.startIndex, offsetBy: cursor)]) : " "
        x += buffer.put(atCursor, x: x, y: area.y, style: style.with(.reverse), maxWidth: area.maxX - x)
        if cursor + 1 < text.count {
            buffer.put(String(text.dropFirst(cursor + 1)), x: x, y: area.y, style: style, maxWidth: area.maxX - x)
        }
    }
}
