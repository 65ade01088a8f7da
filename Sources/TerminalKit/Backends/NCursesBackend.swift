import CNCursesW
import Foundation

/// Why a real terminal could not be used.
public enum TerminalError: Error, CustomStringConvertible {
    case cannotOpen(term: String)
    case noCursorAddressing(term: String)
    case notATerminal

    public var description: String {
        switch self {
        case .cannotOpen(let term): "cannot use the terminal (TERM=\(term)); try TERM=xterm-256color"
        case .noCursorAddressing(let term):
            "TERM=\(term) cannot move the cursor, and the console draws a screen: set TERM to your terminal's type (e.g. TERM=xterm-256color), or use the CLI subcommands"
        case .notATerminal: "standard input/output is not a terminal; the console needs one (use the CLI subcommands in scripts)"
        }
    }
}

/// The terminal, through ncursesw. Every call happens on the thread that created it.
public final class NCursesBackend: Backend {
    public private(set) var size: Size
    public let colorDepth: ColorDepth
    private var pairs: [ColorPairKey: Int32] = [:]
    private var nextPair: Int32 = 1
    private var isShutDown = false
    private let screen: OpaquePointer

    private struct ColorPairKey: Hashable { var foreground: Int32; var background: Int32 }

    /// Takes over the terminal. `mouse` is off by default so that text selection over SSH
    /// keeps working. `noColor` (from NO_COLOR) draws with attributes only.
    public init(mouse: Bool = false, noColor: Bool = false) throws {
        guard isatty(STDIN_FILENO) == 1, isatty(STDOUT_FILENO) == 1 else { throw TerminalError.notATerminal }
        setlocale(LC_ALL, "")
        // Wide characters need a UTF-8 character type, whatever the SSH session exported.
        if String(cString: nl_langinfo(nl_item(CODESET))).uppercased() != "UTF-8" {
            if setlocale(LC_CTYPE, "C.UTF-8") == nil { setlocale(LC_CTYPE, "en_US.UTF-8") }
        }
        // newterm, unlike initscr, returns NULL for an unusable TERM instead of exiting.
        let environment = ProcessInfo.processInfo.environment
        guard let output = fdopen(STDOUT_FILENO, "w"), let input = fdopen(STDIN_FILENO, "r"),
              let screen = Self.directColorTerminal(environment: environment).flatMap({ newterm($0, output, input) }) ?? newterm(nil, output, input) else {
            throw TerminalError.cannotOpen(term: environment["TERM"] ?? "(unset)")
        }
        set_term(screen)
        // A terminal without cursor addressing is refused like an unknown one, before anything is drawn.
        guard gh_has_cursor_addressing() != 0 else {
            endwin()
            delscreen(screen)
            throw TerminalError.noCursorAddressing(term: environment["TERM"] ?? "(unset)")
        }
        self.screen = screen
        cbreak()
        noecho()
        nonl()
        keypad(gh_stdscr(), true)
        set_escdelay(25)
        curs_set(0)
        if has_colors() && !noColor {
            start_color()
            use_default_colors()
            colorDepth = ColorDepth.detect(terminfoColors: Int(gh_colors()), noColor: false)
        } else {
            colorDepth = .none
        }
        if mouse { mousemask(gh_all_mouse_events(), nil) }
        var rows: Int32 = 0, columns: Int32 = 0
        gh_getmaxyx(gh_stdscr(), &rows, &columns)
        size = Size(width: Int(columns), height: Int(rows))
    }

    deinit { shutdown() }

    public var supportsColor: Bool { colorDepth != .none }

    /// When COLORTERM announces 24-bit colour but TERM names a 256-colour entry, the matching
    /// `*-direct` entry (from ncurses-term) lets curses send 24-bit colour; nil when there is none.
    private static func directColorTerminal(environment: [String: String]) -> String? {
        guard ColorDepth.announcesTrueColor(environment["COLORTERM"]), let term = environment["TERM"], !term.contains("direct") else { return nil }
        let base = term.replacingOccurrences(of: "-256color", with: "")
        let candidate = base + "-direct"
        let directories = [environment["TERMINFO"], environment["HOME"].map { $0 + "/.terminfo" }, "/etc/terminfo", "/lib/terminfo", "/usr/share/terminfo"]
        let exists = directories.compactMap { $0 }.contains { FileManager.default.fileExists(atPath: "\($0)/\(candidate.prefix(1))/\(candidate)") }
        return exists ? candidate : nil
    }

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

    /// Written straight to the terminal after curses has sent its frame: the sequence moves no
    /// cursor and draws nothing, so curses' idea of the screen stays true.
    public func setClipboard(_ text: String) {
        flush()
        let bytes = Array(TerminalText.osc52(text).utf8)
        var offset = 0
        while offset < bytes.count {
            let written = bytes[offset...].withUnsafeBufferPointer { write(STDOUT_FILENO, $0.baseAddress, $0.count) }
            if written > 0 { offset += written } else if errno != EINTR && errno != EAGAIN { break }
        }
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
        _ = gh_attr_set(attributes, colorDepth == .none ? 0 : pair(for: style))
    }

    private func pair(for style: Style) -> Int32 {
        let style = style.degraded(to: colorDepth)
        let key = ColorPairKey(foreground: curses(style.foreground), background: curses(style.background))
        if key.foreground == -1 && key.background == -1 { return 0 }
        if let existing = pairs[key] { return existing }
        guard nextPair < min(gh_color_pairs(), 32767) else { return 0 }
        let number = nextPair
        nextPair += 1
        // The extended call takes colour numbers above 32767, which direct colour uses.
        init_extended_pair(number, key.foreground, key.background)
        pairs[key] = number
        return number
    }

    /// The colour number the terminal understands for an already degraded colour. On a direct-
    /// colour terminal numbers below 8 are the ANSI colours and the rest are packed RGB.
    private func curses(_ color: Color) -> Int32 {
        if colorDepth == .trueColor, color != .default {
            if case .ansi(let n) = color, n < 8 { return Int32(n) }
            guard let (r, g, b) = color.rgbValue else { return -1 }
            // 1–7 would be read as ANSI colours: those near-blacks become 8 (#000008).
            let packed = Int32(r) << 16 | Int32(g) << 8 | Int32(b)
            return packed == 0 ? 0 : max(8, packed)
        }
        switch color {
        case .default: return -1
        case .ansi(let n): return gh_colors() >= 16 ? Int32(n) : Int32(n % 8)
        case .indexed(let n): return Int32(n)
        case .rgb: return -1 // degraded before it gets here
        }
    }
}
