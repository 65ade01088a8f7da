import TerminalKit

/// The console's styles, by role. Colours where the terminal has them; every role also differs
/// by attribute alone, so vt100 and NO_COLOR terminals stay readable.
struct ConsoleTheme {
    var header = Style(foreground: .ansi(6), attributes: [.bold])
    var tableHeader = Style(attributes: [.bold, .underline])
    var selection = Style(attributes: [.reverse, .bold])
    var newRow = Style(foreground: .ansi(2), attributes: [.bold])
    var changedRow = Style(foreground: .ansi(3), attributes: [.bold])
    var ended = Style(attributes: [.dim])
    var info = Style(foreground: .ansi(6))
    var error = Style(foreground: .ansi(1), attributes: [.bold])
    var border = Style(foreground: .ansi(6))
    var muted = Style(attributes: [.dim])
    var tabSelected = Style(attributes: [.reverse, .bold])

    static let standard = ConsoleTheme()

    /// Attribute-only styles for terminals without colours.
    static let monochrome = ConsoleTheme(
        header: Style(attributes: [.bold]), newRow: Style(attributes: [.bold]), changedRow: Style(attributes: [.underline]),
        info: Style(), error: Style(attributes: [.bold, .reverse]), border: Style())
}
