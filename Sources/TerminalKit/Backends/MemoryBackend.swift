/// A terminal in memory: applies frames to a `Buffer` and replays scripted events. For tests.
public final class MemoryBackend: Backend {
    public private(set) var size: Size
    public let colorDepth: ColorDepth
    /// What a person would see now.
    public private(set) var screen: Buffer
    /// How many cells the last frames sent: lets tests prove only changes are drawn.
    public private(set) var cellsDrawn = 0
    public var events: [Event] = []

    public init(width: Int = 120, height: Int = 40, colorDepth: ColorDepth = .indexed256) {
        size = Size(width: width, height: height)
        self.colorDepth = colorDepth
        screen = Buffer(size: size)
    }

    public func resize(width: Int, height: Int) {
        size = Size(width: width, height: height)
        screen = Buffer(size: size)
        events.append(.resize(size))
    }

    public func draw(_ runs: [CellRun]) {
        for run in runs {
            for (offset, cell) in run.cells.enumerated() where run.x + offset < size.width && run.y < size.height {
                screen[run.x + offset, run.y] = cell
                cellsDrawn += 1
            }
        }
    }

    public func flush() {}

    /// What `setClipboard` was given, oldest first.
    public private(set) var clipboard: [String] = []

    public func setClipboard(_ text: String) { clipboard.append(text) }

    public func invalidate() {}

    public func resetCounters() { cellsDrawn = 0 }

    public func nextEvent(timeout: Double) -> Event? {
        events.isEmpty ? nil : events.removeFirst()
    }
}
