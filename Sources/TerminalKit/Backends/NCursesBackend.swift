import CNCursesW
import Foundation

/// Why a real terminal could not be used.
public enum TerminalError: Error, CustomStringConvertible {
    case cannotOpen(term: String)
    case notATerminal

    public var description: String {
        switch self {
        case .cannotOpen(let term): "cannot use the terminal (TERM=\(term)); try TERM=xterm-256color"
        case .notATerminal: "standard input/output is not a terminal; the console needs one (use the CLI subcommands in scripts)"
        }
    }
}

/// The terminal, through ncursesw. Every call happens on the thread that created it.
public final class NCursesBackend: Backend {
    public private(set) var size: Size
    public let supportsColor: Bool
    private var pairs: [ColorPairKey: Int32] = [:]
    private var nextPair: Int32 = 1
    private let colorCount: Int32
    private var isShutDown = false
    private let screen: OpaquePointer

    private struct ColorPairKey: Hashable { var foreground: Int32; var background: Int32 }

    /// Takes over the terminal. `mouse` is off by default so that text selection over SSH
    /// keeps working.
    public init(mouse: Bool = false) throws {
        guard isatty(STDIN_FILENO) == 1, isatty(STDOUT_FILENO) == 1 else { throw TerminalError.notATerminal }
        setlocale(LC_ALL, "")
        // Wide characters need a UTF-8 character type, whatever the SSH session exported.
        if String(cString: nl_langinfo(nl_item(CODESET))).uppercased() != "UTF-8" {
            if setlocale(LC_CTYPE, "C.UTF-8") == nil { setlocale(LC_CTYPE, "en_US.UTF-8") }
        }
        // newterm, unlike initscr, returns NULL for an unusable TERM instead of exiting.
        guard let output = fdopen(STDOUT_FILENO, "w"), let input = fdopen(STDIN_FILENO, "r"),
              let screen = newterm(nil, output, input) else {
            throw TerminalError.cannotOpen(term: ProcessInfo.processInfo.environment["TERM"] ?? "(unset)")
        }
        self.screen = screen
        set_term(screen)
        cbreak()
        noecho()
        nonl()
        keypad(gh_stdscr(), true)
        set_escdelay(25)
        curs_set(0)
        if has_colors() {
            start_color()
            use_default_colors()
            supportsColor = true
            colorCount = gh_colors()
        } else {
            supportsColor = false
            colorCount = 0
        }
        if mouse { mousemask(gh_all_mouse_events(), nil) }
        var rows: Int32 = 0, columns: Int32 = 0
        gh_getmaxyx(gh_stdscr(), &rows, &columns)
        size = Size(width: Int(columns), height: Int(rows))
    }

    deinit { shutdown() }

    /// Gives the terminal back: cursor, echo, line mode, the normal screen. Safe to call twice.
    public func shutdown() {
        guard !isShutDown else { return }
        isShutDown = true
        curs_set(1)
        endwin()
        delscreen(screen)
    }

    public func draw(_ runs: [CellRun]) {
        for run in runs {
            var x = run.x
            var index = 0
            while index < run.cells.count {
                let style = run.cells[index].style
                var text: [wchar_t] = []
                var width = 0
                while index < run.cells.count && run.cells[index].style == style {
                    let cell = run.cells[index]
                    if !cell.isContinuation {
                        for scalar in cell.text.unicodeScalars { text.append(wchar_t(bitPattern: scalar.value)) }
                    }
                    width += 1
                    index += 1
                }
                apply(style)
                text.withUnsafeBufferPointer { pointer in
                    _ = gh_mvaddnwstr(Int32(run.y), Int32(x), pointer.baseAddress, Int32(pointer.count))
                }
                x += width
            }
        }
    }

    public func flush() {
        wnoutrefresh(gh_stdscr())
        doupdate()
    }

    public func invalidate() {
        clearok(gh_stdscr(), true)
    }

    public func nextEvent(timeout: Double) -> Event? {
        wtimeout(gh_stdscr(), Int32(max(0, timeout * 1000)))
        var character: wint_t = 0
        let status = gh_get_wch(&character)
        if status == ERR { return nil }
        if status == KEY_CODE_YES { return functionKey(Int32(character)) }
        return characterKey(UInt32(character)).map(Event.key)
    }

    private func characterKey(_ value: UInt32) -> Key? {
        switch value {
        case 9: return .tab
        case 10, 13: return .enter
        case 27: return .escape
        case 8, 127: return .backspace
        case 1...26: return .control(Character(UnicodeScalar(value + 96)!))
        default:
            guard let scalar = UnicodeScalar(value) else { return nil }
            return .character(Character(scalar))
        }
    }

    private func functionKey(_ code: Int32) -> Event? {
        switch code {
        case KEY_RESIZE:
            var rows: Int32 = 0, columns: Int32 = 0
            gh_getmaxyx(gh_stdscr(), &rows, &columns)
            size = Size(width: Int(columns), height: Int(rows))
            invalidate()
            return .resize(size)
        case KEY_MOUSE:
            var event = MEVENT()
            guard getmouse(&event) == OK else { return nil }
            let state = event.bstate
            let button: MouseButton
            if state & gh_button_pressed(1) != 0 { button = .left }
            else if state & gh_button_pressed(3) != 0 { button = .right }
            else if state & gh_button_pressed(4) != 0 { button = .wheelUp }
            else if state & gh_button_pressed(5) != 0 { button = .wheelDown }
            else { button = .middle }
            return .mouse(button: button, x: Int(event.x), y: Int(event.y))
        case KEY_UP: return .key(.up)
        case KEY_DOWN: return .key(.down)
        case KEY_LEFT: return .key(.left)
        case KEY_RIGHT: return .key(.right)
        case KEY_PPAGE: return .key(.pageUp)
        case KEY_NPAGE: return .key(.pageDown)
        case KEY_HOME, KEY_FIND, KEY_A1: return .key(.home)
        case KEY_END, KEY_SELECT, KEY_C1, KEY_LL: return .key(.end)
        case KEY_BACKSPACE: return .key(.backspace)
        case KEY_DC: return .key(.delete)
        case KEY_BTAB: return .key(.backTab)
        case KEY_ENTER: return .key(.enter)
        default:
            for n in 1...12 where code == gh_key_f(Int32(n)) { return .key(.function(n)) }
            return nil
        }
    }

    // MARK: - Styles

    private func apply(_ style: Style) {
        var attributes = gh_a_normal()
        if style.attributes.contains(.bold) { attributes |= gh_a_bold() }
        if style.attributes.contains(.dim) { attributes |= gh_a_dim() }
        if style.attributes.contains(.underline) { attributes |= gh_a_underline() }
        if style.attributes.contains(.reverse) { attributes |= gh_a_reverse() }
        if style.attributes.contains(.italic) { attributes |= gh_a_italic() }
        _ = gh_attr_set(attributes, supportsColor ? pair(for: style) : 0)
    }

    private func pair(for style: Style) -> Int32 {
        let key = ColorPairKey(foreground: curses(style.foreground), background: curses(style.background))
        if key.foreground == -1 && key.background == -1 { return 0 }
        if let existing = pairs[key] { return existing }
        guard nextPair < min(gh_color_pairs(), 32767) else { return 0 }
        let number = nextPair
        nextPair += 1
        init_pair(Int16(number), Int16(key.foreground), Int16(key.background))
        pairs[key] = number
        return number
    }

    /// The colour number the terminal understands, degrading 256 → 16 → 8.
    private func curses(_ color: Color) -> Int32 {
        switch color {
        case .default: return -1
        case .ansi(let n): return colorCount >= 16 ? Int32(n) : Int32(n % 8)
        case .indexed(let n):
            if colorCount >= 256 { return Int32(n) }
            return curses(.ansi(ColorApproximation.ansi(forIndexed: n)))
        }
    }
}

/// Maps the 256-colour palette onto the 16 ANSI colours for terminals that have no more.
enum ColorApproximation {
    static func ansi(forIndexed index: UInt8) -> UInt8 {
        if index < 16 { return index }
        if index >= 232 { return index < 244 ? 8 : 7 }
        let cube = Int(index) - 16
        let r = cube / 36, g = (cube / 6) % 6, b = cube % 6
        let bright = max(r, g, b) >= 4
        let bits = (r >= 2 ? 1 : 0) | (g >= 2 ? 2 : 0) | (b >= 2 ? 4 : 0)
        return UInt8(bits) + (bright && bits != 0 ? 8 : 0)
    }
}
