/// One field of a `Form`: free text, or a choice cycled with ←/→.
public struct FormField: Sendable, Equatable {
    public var name: String
    public var label: String
    /// The values a choice field cycles through; nil for a text field.
    public var choices: [String]?
    public var editor: LineEditor
    /// Shown beside the field while it has the focus.
    public var hint: String

    public init(name: String, label: String, value: String = "", choices: [String]? = nil, hint: String = "") {
        self.name = name
        self.label = label
        self.choices = choices
        editor = LineEditor(value)
        self.hint = hint
    }

    public var value: String { editor.text }
}

/// A small dialog of labelled fields. Tab/↓ and shift-tab/↑ move between fields, ←/→ change a
/// choice, Enter submits and Esc cancels. The owner validates what was submitted and, when it is
/// refused, sets `error` and keeps the form open, so nothing typed is lost.
public struct Form: Sendable, Equatable {
    public enum Outcome: Sendable, Equatable { case pending, submitted, cancelled }

    public var title: String
    public var fields: [FormField]
    public var focus = 0
    public var error: String?
    /// What Enter does, as the footer names it ("start", "save").
    public var submitLabel: String

    public init(title: String, fields: [FormField], submitLabel: String = "submit") {
        self.title = title
        self.fields = fields
        self.submitLabel = submitLabel
    }

    public subscript(name: String) -> String? {
        fields.first { $0.name == name }?.value
    }

    public mutating func handle(_ key: Key) -> Outcome {
        switch key {
        case .escape: return .cancelled
        case .enter: return .submitted
        case .tab, .down: focus = (focus + 1) % fields.count
        case .backTab, .up: focus = (focus + fields.count - 1) % fields.count
        case .left, .right:
            if let choices = fields[focus].choices, !choices.isEmpty {
                let current = choices.firstIndex(of: fields[focus].value) ?? 0
                let next = (current + (key == .right ? 1 : choices.count - 1)) % choices.count
                fields[focus].editor = LineEditor(choices[next])
            } else {
                _ = fields[focus].editor.handle(key)
            }
        default:
            // Choices are picked, not typed.
            guard fields[focus].choices == nil else { return .pending }
            if fields[focus].editor.handle(key) { error = nil }
        }
        return .pending
    }

    public func render(into buffer: inout Buffer, area: Rect, style: Style = .plain, accent: Style = Style(attributes: [.bold]),
                       errorStyle: Style = Style(attributes: [.bold])) {
        let labelWidth = (fields.map { DisplayWidth.of($0.label) }.max() ?? 8) + 2
        let hintWidth = fields.map { DisplayWidth.of($0.hint) }.max() ?? 0
        let footer = "tab next field · ←/→ change a choice · enter \(submitLabel) · esc cancel"
        let width = min(area.width - 2, max(DisplayWidth.of(footer) + 4, labelWidth + 30 + hintWidth + 6))
        let height = min(area.height, fields.count + 6)
        let frame = area.centered(width: width, height: height)
        buffer.fill(frame, style: style)
        buffer.box(frame, style: accent, title: title)
        let inner = frame.width - 4
        let editorWidth = max(10, inner - labelWidth - hintWidth - 2)
        for (index, field) in fields.enumerated() {
            let y = frame.y + 2 + index
            guard y < frame.maxY - 2 else { break }
            let focused = index == focus
            let x = frame.x + 2
            buffer.put(field.label, x: x, y: y, style: focused ? style.with(.bold) : style, maxWidth: labelWidth)
            let area = Rect(x: x + labelWidth, y: y, width: editorWidth, height: 1)
            if focused && field.choices == nil {
                field.editor.render(into: &buffer, area: area, prompt: "", style: style.with(.underline))
            } else {
                let shown = field.choices == nil ? field.value : "‹ \(field.value) ›"
                buffer.fill(area, style: field.choices == nil ? style.with(.underline) : style)
                buffer.put(shown, x: area.x, y: y, style: focused ? style.with(.reverse) : style, maxWidth: editorWidth)
            }
            if focused { buffer.put(field.hint, x: area.maxX + 2, y: y, style: style.with(.dim), maxWidth: frame.maxX - 2 - area.maxX - 2) }
        }
        if let error {
            buffer.put(error, x: frame.x + 2, y: frame.maxY - 3, style: errorStyle, maxWidth: inner)
        }
        buffer.put(footer, x: frame.x + 2, y: frame.maxY - 2, style: style.with(.dim), maxWidth: inner)
    }
}
