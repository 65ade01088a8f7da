import ConfigFiles
import Foundation
import TerminalKit
import TOMLKit

/// `~/.config/gatehouse/config.toml`: what the console starts with when flags say nothing.
///
///     theme = "light"
///     refresh = 0.5            # seconds between checks for changes
///     database = "/var/lib/gatehouse/gatehouse.sqlite"
///
///     [keys]                   # action = key, or a list of keys
///     revoke = "x"
///     quit = ["q", "ctrl-q"]
///
/// Flags win over the file; the file wins over the defaults. Unknown keys are errors with
/// `file:line`; the console still starts (with the defaults) and shows the error.
public struct ConsoleConfigFile: Sendable, Equatable, TOMLConfigFile {
    public var theme: String?
    public var refresh: Double?
    public var database: String?
    public var keys: [ConsoleAction: [Key]] = [:]

    public init() {}

    public static func parse(_ document: TOMLDocument) throws(ConfigFileError) -> ConsoleConfigFile {
        var config = ConsoleConfigFile()
        for key in document.root.keys {
            let value = document.root[key]!
            switch key {
            case "theme":
                guard let theme = value.string else { throw document.error("", key, "theme must be a string: a theme name or a path") }
                config.theme = theme
            case "refresh":
                guard let seconds = value.double ?? value.int.map(Double.init), seconds >= 0.1 else {
                    throw document.error("", key, "refresh must be a number of seconds, at least 0.1")
                }
                config.refresh = seconds
            case "database":
                guard let path = value.string, !path.isEmpty else { throw document.error("", key, "database must be a path") }
                config.database = (path as NSString).expandingTildeInPath
            case "keys":
                let table = try document.table(key)
                var taken: [Key: String] = [:]
                for name in document.keysInFileOrder(table, section: key) {
                    guard let action = ConsoleAction(configName: name) else {
                        throw document.error(key, name, "unknown action '\(name)' (actions: \(ConsoleAction.configNames.joined(separator: ", ")))")
                    }
                    let specs: [String]
                    if let one = table[name]?.string {
                        specs = [one]
                    } else if let many = table[name]?.array, case let strings = many.compactMap(\.string), strings.count == many.count, !strings.isEmpty {
                        specs = strings
                    } else {
                        throw document.error(key, name, "\(name) must be a key such as \"x\" or \"ctrl-x\", or a list of them")
                    }
                    var keys: [Key] = []
                    for spec in specs {
                        guard let parsed = Key(spec: spec) else {
                            throw document.error(key, name, "'\(spec)' is not a key (a character, ctrl-x, enter, esc, tab, shift-tab, space, up, down, left, right, pgup, pgdn, home, end, del, backspace, F1–F12)")
                        }
                        if let other = taken[parsed] { throw document.error(key, name, "'\(spec)' is already given to \(other)") }
                        taken[parsed] = name
                        keys.append(parsed)
                    }
                    config.keys[action] = keys
                }
            default:
                throw document.error("", key, "unknown key '\(key)' (theme, refresh, database, [keys])")
            }
        }
        return config
    }

    /// `<config dir>/config.toml`.
    public static func defaultPath(configDirectory: String?) -> String? { configDirectory.map { $0 + "/config.toml" } }
}

extension Key {
    /// Parses a key as config files write it, the same way help labels it (`ctrl-x`, `pgup`, `F5`).
    init?(spec: String) {
        let named: [String: Key] = [
            "enter": .enter, "return": .enter, "esc": .escape, "escape": .escape, "tab": .tab, "shift-tab": .backTab,
            "backspace": .backspace, "del": .delete, "delete": .delete, "space": .character(" "),
            "up": .up, "down": .down, "left": .left, "right": .right, "pgup": .pageUp, "pageup": .pageUp,
            "pgdn": .pageDown, "pagedown": .pageDown, "home": .home, "end": .end,
        ]
        let lower = spec.lowercased()
        if let key = named[lower] {
            self = key
        } else if lower.hasPrefix("ctrl-"), spec.count == 6, let letter = lower.last, letter.isLetter, letter.isASCII {
            self = .control(letter)
        } else if lower.hasPrefix("f"), let n = Int(lower.dropFirst()), (1...12).contains(n) {
            self = .function(n)
        } else if spec.count == 1, let character = spec.first, !character.isWhitespace {
            self = .character(character)
        } else {
            return nil
        }
    }
}
