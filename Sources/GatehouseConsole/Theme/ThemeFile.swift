import ConfigFiles
import Foundation
import TOMLKit

/// Reads a theme file:
///
///     name = "dark"
///     description = "Light text on a dark grey background"
///     [slots]
///     header = "bold #5fd7ff"
///
/// Slots left out keep the default theme's style; unknown keys and slots are errors with
/// `file:line`, so a typo never goes unnoticed.
enum ThemeFile {
    static func parse(_ text: String, path: String, base: ConsoleTheme = BuiltinThemes.defaultTheme) throws(ConfigFileError) -> ConsoleTheme {
        let document = try TOMLDocument(text: text, path: path)
        var theme = base
        theme.name = URL(fileURLWithPath: path).deletingPathExtension().lastPathComponent
        for key in document.root.keys {
            let value = document.root[key]!
            switch key {
            case "name":
                guard let name = value.string, !name.isEmpty else { throw document.error("", key, "name must be a non-empty string") }
                theme.name = name
            case "description":
                guard value.string != nil else { throw document.error("", key, "description must be a string") }
            case "slots":
                let slots = try document.table(key)
                for slot in slots.keys {
                    guard let path = ConsoleTheme.slots.first(where: { $0.name == slot })?.path else {
                        throw document.error(key, slot, "unknown slot '\(slot)' (slots: \(ConsoleTheme.slots.map(\.name).joined(separator: ", ")))")
                    }
                    guard let spec = slots[slot]?.string else { throw document.error(key, slot, "\(slot) must be a string such as \"bold #5fafff on #1c1c1c\"") }
                    do {
                        theme[keyPath: path] = try StyleSpec.parse(spec)
                    } catch {
                        throw document.error(key, slot, "\(slot): \(error.description)")
                    }
                }
            default:
                throw document.error("", key, "unknown key '\(key)' (name, description, [slots])")
            }
        }
        return theme
    }
}

/// The four themes that ship in the binary (the same text as `Themes/*.toml`). A shipped theme
/// that does not parse is a bug that ThemeTests catches; here it falls back to attributes only.
enum BuiltinThemes {
    static let defaultName = "dark"

    static let defaultTheme: ConsoleTheme = parse(defaultName, base: ConsoleTheme(name: defaultName))

    static let all: [ConsoleTheme] = BuiltinThemeFiles.texts.map { parse($0.name, base: defaultTheme) }

    static var monochrome: ConsoleTheme { named("monochrome")! }

    static func named(_ name: String) -> ConsoleTheme? { all.first { $0.name == name } }

    private static func parse(_ name: String, base: ConsoleTheme) -> ConsoleTheme {
        guard let text = BuiltinThemeFiles.texts.first(where: { $0.name == name })?.text,
              let theme = try? ThemeFile.parse(text, path: "Themes/\(name).toml", base: base) else { return ConsoleTheme(name: name) }
        return theme
    }
}
