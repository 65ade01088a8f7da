import Foundation
import GatehouseCore
import TerminalKit

/// The `:` command line: each command's effect on the model (what `CommandPalette` lists and completes).
extension ConsoleUpdate {
    func runCommand(_ text: String, _ model: inout ConsoleModel) -> [ConsoleCommand] {
        let words = text.split(separator: " ").map(String.init)
        guard let name = words.first?.lowercased() else { return [] }
        if let command = CommandPalette.command(named: name), command.changesData && model.readOnly {
            refuseReadOnly(":" + command.name, &model)
            return []
        }
        switch CommandPalette.command(named: name)?.name {
        case "quit": model.quit = true
        case "help": return perform(.help, &model)
        case "sessions":
            model.pane = .sessions
            if words.count > 1 { return applyFilter(words.dropFirst().joined(separator: " "), &model) }
        case "tokens":
            model.pane = .tokens
            model.tokensUser = words.count > 1 ? words[1] : nil
            model.tokens.clearMarks()
            model.tokens.selectedKey = nil
            model.tokens.selectedIndex = 0
            return [load(.tokens, &model, page: .first)]
        case "jobs":
            model.pane = .jobs
            if words.count > 1 { return applyFilter(words.dropFirst().joined(separator: " "), &model) }
        case "limits":
            model.pane = .limits
            if words.count > 1 { return applyFilter(words.dropFirst().joined(separator: " "), &model) }
        case "reset":
            guard words.count == 2 else {
                model.message = StatusMessage(text: ":reset needs a bucket key (tab completes it)", kind: .error)
                return []
            }
            model.pane = .limits
            model.overlay = .confirm(ConfirmDialog(title: "Reset rate-limit bucket", lines: [
                "Reset bucket \(words[1])?", "Its client may make a full burst of requests at once afterwards.",
            ]), .resetBucket(key: words[1]))
        case "keys":
            return [data.loadKeys(theme: model.theme)]
        case "revoke-before":
            guard words.count == 2 || words.count == 3, let cutoff = Timestamp.parse(words[1]) else {
                model.message = StatusMessage(text: ":revoke-before TIME [EMAIL]: TIME in ISO 8601 (2026-12-01T09:30:00Z); without EMAIL, every user", kind: .error)
                return []
            }
            guard cutoff <= model.now else {
                model.message = StatusMessage(text: ":revoke-before: \(words[1]) is in the future; give a time up to now", kind: .error)
                return []
            }
            return [data.prepareRevokeBefore(cutoff, email: words.count == 3 ? words[2] : nil)]
        case "pulse": return pulseCommand(Array(words.dropFirst()), &model)
        case "theme":
            guard words.count == 2 else {
                model.message = StatusMessage(text: "themes: \(model.themes.names().joined(separator: ", "))", kind: .info)
                return []
            }
            let (theme, problem) = model.themes.load(words[1])
            if let problem {
                model.message = StatusMessage(text: problem, kind: .error)
            } else {
                model.theme = theme.resolved(for: model.colorDepth)
                model.message = StatusMessage(text: "theme \(theme.name) (\(model.colorDepth.description))", kind: .info)
            }
        case "audit":
            model.pane = .audit
            if words.count > 1 { return applyFilter(words.dropFirst().joined(separator: " "), &model) }
        default:
            let offered = CommandPalette.commandNames(startingWith: "", readOnly: model.readOnly)
            model.message = StatusMessage(text: "unknown command :\(name) (tab completes: \(offered.joined(separator: ", ")))", kind: .error)
        }
        return []
    }
}
