import Foundation

/// A one-line progress bar on standard error, drawn only when standard error is a terminal
/// (a script or a log file gets the final summary alone): redrawn at most ten times a second,
/// erased when done.
///
///     [=================>            ]  58%  audit_events  1,160,000 of 2,000,000 rows
/// Drawn from one thread at a time (the work it reports on), hence `@unchecked Sendable`.
final class ProgressLine: @unchecked Sendable {
    private let enabled = isatty(STDERR_FILENO) == 1
    private var lastDraw = ContinuousClock.now - .seconds(1)
    private var drawn = false

    func update(_ label: String, done: Int, total: Int) {
        guard enabled, ContinuousClock.now - lastDraw >= .milliseconds(100) || done == total else { return }
        lastDraw = .now
        let fraction = total > 0 ? min(1, Double(done) / Double(total)) : 1
        let width = 30
        let filled = Int(fraction * Double(width))
        let bar = String(repeating: "=", count: filled) + (filled < width ? ">" + String(repeating: " ", count: width - filled - 1) : "")
        let text = "[\(bar)] \(String(format: "%3d", Int(fraction * 100)))%  \(label)  \(done.formatted()) of \(total.formatted()) rows"
        // \r to the line's start, the text, then erase what a longer previous line left.
        FileHandle.standardError.write(Data("\r\(text.prefix(max(20, Self.columns() - 1)))\u{1B}[K".utf8))
        drawn = true
    }

    /// Erases the bar (the summary is printed in its place).
    func finish() {
        guard drawn else { return }
        FileHandle.standardError.write(Data("\r\u{1B}[K".utf8))
        drawn = false
    }

    private static func columns() -> Int {
        var size = winsize()
        return ioctl(STDERR_FILENO, UInt(TIOCGWINSZ), &size) == 0 && size.ws_col > 0 ? Int(size.ws_col) : 80
    }
}
