import TerminalKit

/// The console's styles by named slot. Themes (TOML files, see `ThemeFile`) set them; every slot
/// a theme leaves out keeps the default theme's style. Every role also differs by attribute alone,
/// so a terminal without colours stays readable with the monochrome theme.
public struct ConsoleTheme: Sendable, Equatable {
    public var name: String
    public var background = Style()
    public var text = Style()
    public var muted = Style(attributes: [.dim])
    public var accent = Style(attributes: [.bold])
    public var selection = Style(attributes: [.reverse, .bold])
    public var header = Style(attributes: [.bold])
    public var tableHeader = Style(attributes: [.bold, .underline])
    public var border = Style()
    public var ok = Style()
    public var warn = Style(attributes: [.bold])
    public var error = Style(attributes: [.bold, .reverse])
    public var info = Style()
    public var newRow = Style(attributes: [.bold])
    public var changedRow = Style(attributes: [.underline])
    /// Rows marked for a bulk action (space).
    public var marked = Style(attributes: [.bold, .italic])
    public var ended = Style(attributes: [.dim])
    public var tabSelected = Style(attributes: [.reverse, .bold])

    public init(name: String) { self.name = name }

    /// The slots as theme files name them, in the order help and docs list them.
    static let slots: [(name: String, path: WritableKeyPath<ConsoleTheme, Style> & Sendable)] = [
        ("background", \.background), ("text", \.text), ("muted", \.muted), ("accent", \.accent),
        ("selection", \.selection), ("header", \.header), ("table-header", \.tableHeader), ("border", \.border),
        ("ok", \.ok), ("warn", \.warn), ("error", \.error), ("info", \.info), ("new-row", \.newRow),
        ("changed-row", \.changedRow), ("marked", \.marked), ("ended", \.ended), ("tab-selected", \.tabSelected),
    ]

    /// The theme as a terminal of `depth` shows it. Without colours the monochrome theme is used,
    /// whatever was chosen: colour themes may tell roles apart by colour alone.
    public func resolved(for depth: ColorDepth) -> ConsoleTheme {
        if depth == .none { return BuiltinThemes.monochrome }
        var copy = self
        for slot in Self.slots { copy[keyPath: slot.path] = self[keyPath: slot.path].degraded(to: depth) }
        return copy
    }

    /// The colours cells without their own take: the theme's text on its background.
    var base: Style { Style(foreground: text.foreground, background: background.background) }
}
