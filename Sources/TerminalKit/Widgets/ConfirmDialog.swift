/// A confirmation that names its targets. Plain: `y` or Enter confirms, `n` or Esc cancels.
/// Typed: the person must type `expected` exactly (for actions that hit many targets).
public struct ConfirmDialog: Sendable, Equatable {
    public enum Outcome: Sendable, Equatable { case pending, confirmed, cancelled }

    public var title: String
    public var lines: [String]
    /// When set, Enter confirms only once the input equals this text.
    public var expected: String?
    public var input = LineEditor()
    public var mismatch = false

    public init(title: String, lines: [String], expected: String? = nil) {
        self.title = title
        self.lines = lines
        self.expected = expected
    }

    public mutating func handle(_ key: Key) -> Outcome {
        if key == .escape { return .cancelled }
        guard let expected else {
            switch key {
            case .character("y"), .character("Y"), .enter: return .confirmed
            case .character("n"), .character("N"): return .cancelled
            default: return .pending
            }
        }
        if key == .enter {
            if input.text == expected { return .confirmed }
            mismatch = true
            return .pending
        }
        mismatch = false
        _ = input.handle(key)
        return .pending
    }

    public func render(into buffer: inout Buffer, area: Rect, style: Style = .plain, accent: Style = Style(attributes: [.bold])) {
        let hint = expected == nil ? "y/enter confirm · n/esc cancel" : "type \(expected!) and press enter · esc cancels"
        let contentWidth = ([title, hint] + lines + [expected.map { "> \($0) " } ?? ""]).map(DisplayWidth.of).max() ?? 20
        let width = min(area.width - 2, max(40, contentWidth + 4))
        let height = min(area.height, lines.count + (expected == nil ? 4 : 6))
        let frame = area.centered(width: width, height: height)
        buffer.fill(frame, style: style)
        buffer.box(frame, style: accent, title: title)
        var y = frame.y + 1
        for line in lines where y < frame.maxY - 1 {
            buffer.put(line, x: frame.x + 2, y: y, style: style, maxWidth: frame.width - 4)
            y += 1
        }
        if expected != nil, y + 1 < frame.maxY - 1 {
            y += 1
            input.render(into: &buffer, area: Rect(x: frame.x + 2, y: y, width: frame.width - 4, height: 1), prompt: "> ", style: style)
            y += 1
            if mismatch { buffer.put("does not match", x: frame.x + 2, y: y, style: accent, maxWidth: frame.width - 4) }
        }
        buffer.put(hint, x: frame.x + 2, y: frame.maxY - 2, style: style.with(.dim), maxWidth: frame.width - 4)
    }
}
