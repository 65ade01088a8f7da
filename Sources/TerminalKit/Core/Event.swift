/// A key as the console understands it, whatever terminal sent it.
public enum Key: Sendable, Hashable {
    case character(Character)
    case enter, escape, tab, backTab, backspace, delete
    case up, down, left, right, pageUp, pageDown, home, end
    case function(Int)
    /// Ctrl plus a letter (lowercase), except those with keys of their own (Tab, Enter).
    case control(Character)

    /// How help screens and key hints name the key.
    public var label: String {
        switch self {
        case .character(" "): "space"
        case .character(let c): String(c)
        case .enter: "enter"
        case .escape: "esc"
        case .tab: "tab"
        case .backTab: "shift-tab"
        case .backspace: "backspace"
        case .delete: "del"
        case .up: "↑"
        case .down: "↓"
        case .left: "←"
        case .right: "→"
        case .pageUp: "pgup"
        case .pageDown: "pgdn"
        case .home: "home"
        case .end: "end"
        case .function(let n): "F\(n)"
        case .control(let c): "ctrl-\(c)"
        }
    }
}

public enum MouseButton: Sendable, Hashable { case left, middle, right, wheelUp, wheelDown }

/// What a backend reports.
public enum Event: Sendable, Hashable {
    case key(Key)
    case resize(Size)
    case mouse(button: MouseButton, x: Int, y: Int)
}
