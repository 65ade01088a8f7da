/// Where frames go and events come from: a real terminal, or memory in tests.
///
/// A backend is used from one thread only (curses is not thread-safe).
public protocol Backend: AnyObject {
    var size: Size { get }
    /// How many colours the terminal shows; without them widgets rely on attributes alone.
    var colorDepth: ColorDepth { get }
    /// Draws the given runs; nothing is visible before `flush`.
    func draw(_ runs: [CellRun])
    func flush()
    /// Forget what the terminal shows (after a resize or a stray write) so the next frame is drawn whole.
    func invalidate()
    /// Waits up to `timeout` seconds for an event.
    func nextEvent(timeout: Double) -> Event?
    /// Puts `text` on the operator's clipboard with OSC 52 (`TerminalText.osc52`): the terminal
    /// they sit at sets it, through SSH and through tmux (`set-clipboard on`).
    func setClipboard(_ text: String)
}

/// Draws frames on a backend, sending only what changed since the last one.
public final class Terminal {
    public let backend: any Backend
    private var previous: Buffer?

    public init(backend: any Backend) {
        self.backend = backend
    }

    public var size: Size { backend.size }

    /// Renders one frame: `draw` paints a fresh buffer of the terminal's size.
    @discardableResult
    public func draw(_ paint: (inout Buffer) -> Void) -> Buffer {
        var buffer = Buffer(size: backend.size)
        paint(&buffer)
        let runs = buffer.changes(since: previous)
        if !runs.isEmpty {
            backend.draw(runs)
            backend.flush()
        }
        previous = buffer
        return buffer
    }

    /// Makes the next frame a full redraw.
    public func invalidate() {
        previous = nil
        backend.invalidate()
    }
}
