import ConfigFiles
import Foundation

/// Finds a theme by name or path: `--theme NAME`, `theme = "NAME"` in config.toml, `:theme NAME`.
/// User themes in `<config dir>/themes/NAME.toml` come before the shipped ones of the same name.
/// A theme that cannot be used gives the default theme and says why (`file:line: what`).
public struct ThemeCatalog: Sendable {
    /// `~/.config/gatehouse` or `$XDG_CONFIG_HOME/gatehouse`; nil when neither is known.
    public var configDirectory: String?

    public init(configDirectory: String?) {
        self.configDirectory = configDirectory
    }

    public var userThemeDirectory: String? { configDirectory.map { $0 + "/themes" } }

    /// The theme called `name` (or in the file `name`), or the default with the reason it is not.
    public func load(_ name: String?) -> (theme: ConsoleTheme, problem: String?) {
        guard let name, !name.isEmpty else { return (BuiltinThemes.defaultTheme, nil) }
        let path: String? = if name.contains("/") || name.hasSuffix(".toml") {
            name
        } else {
            userThemeDirectory.map { "\($0)/\(name).toml" }.flatMap { FileManager.default.fileExists(atPath: $0) ? $0 : nil }
        }
        if let path {
            do {
                let document = try String(contentsOfFile: path, encoding: .utf8)
                return (try ThemeFile.parse(document, path: path), nil)
            } catch let error as ConfigFileError {
                return (BuiltinThemes.defaultTheme, "\(error.description) (using the \(BuiltinThemes.defaultName) theme)")
            } catch {
                return (BuiltinThemes.defaultTheme, "\(path): cannot read the theme (\(error.localizedDescription)); using the \(BuiltinThemes.defaultName) theme")
            }
        }
        if let theme = BuiltinThemes.named(name) { return (theme, nil) }
        return (BuiltinThemes.defaultTheme, "unknown theme '\(name)' (\(names().joined(separator: ", "))); using the \(BuiltinThemes.defaultName) theme")
    }

    /// Every theme name `load` accepts: the shipped ones and the user's files.
    public func names() -> [String] {
        var names = BuiltinThemes.all.map(\.name)
        if let directory = userThemeDirectory, let files = try? FileManager.default.contentsOfDirectory(atPath: directory) {
            for file in files.sorted() where file.hasSuffix(".toml") {
                let name = String(file.dropLast(5))
                if !names.contains(name) { names.append(name) }
            }
        }
        return names
    }

    /// `$XDG_CONFIG_HOME/gatehouse`, else `$HOME/.config/gatehouse`.
    public static func defaultConfigDirectory(environment: [String: String] = ProcessInfo.processInfo.environment) -> String? {
        if let xdg = environment["XDG_CONFIG_HOME"], !xdg.isEmpty { return xdg + "/gatehouse" }
        if let home = environment["HOME"], !home.isEmpty { return home + "/.config/gatehouse" }
        return nil
    }
}
