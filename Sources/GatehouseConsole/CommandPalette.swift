import Foundation
import TerminalKit

/// The `:` command line. Tab completes the command, then its argument: pane commands complete
/// emails or bucket keys (read from the database), `:theme` the theme names. Several matches
/// fill in what they share and are listed above the line; Tab again steps through them.
struct CommandPalette: Equatable {
    enum Argument: Equatable { case none, email, bucket, theme }

    struct Command {
        var name: String
        /// Other names that run it (`:t`, `:q!`); completion offers only `name`.
        var aliases: [String] = []
        var argument: Argument
        var help: String
        /// The key action it stands for, when it is one: its `changesData` decides read-only mode.
        var action: ConsoleAction?

        var changesData: Bool { action?.changesData ?? false }
    }

    static let commands: [Command] = [
        Command(name: "sessions", aliases: ["session", "s"], argument: .email, help: "Sessions pane, filtered by the text"),
        Command(name: "tokens", aliases: ["token", "t"], argument: .email, help: "Tokens pane, narrowed to one user"),
        Command(name: "limits", aliases: ["limit", "l", "buckets"], argument: .bucket, help: "Limits pane, filtered by the text"),
        Command(name: "reset", argument: .bucket, help: "reset a rate-limit bucket (asks first)", action: .resetBucket),
        Command(name: "jobs", aliases: ["job", "j"], argument: .none, help: "Jobs pane, filtered by the text"),
        Command(name: "audit", aliases: ["a"], argument: .none, help: "Audit pane, filtered by the text"),
        Command(name: "revoke-before", argument: .none, help: "revoke sessions created before TIME: of EMAIL, or of everyone (asks first)",
                action: .revokeUser),
        Command(name: "pulse", aliases: ["p"], argument: .none, help: "Pulse pane: events per minute (:pulse 24h for the day)"),
        Command(name: "keys", argument: .none, help: "the JWT signing keys and their states"),
        Command(name: "theme", argument: .theme, help: "switch the theme"),
        Command(name: "help", aliases: ["h"], argument: .none, help: "the keys in force"),
        Command(name: "quit", aliases: ["q", "q!", "exit"], argument: .none, help: "leave the console"),
    ]

    /// The command a typed name or alias runs.
    static func command(named typed: String) -> Command? {
        let name = typed.lowercased()
        return commands.first { $0.name == name || $0.aliases.contains(name) }
    }

    var editor = LineEditor()
    /// Matches of the last Tab, and the one filled in when Tab steps through them.
    var candidates: [String] = []
    var chosen: Int?

    /// What Tab completes now: the word under completion and what kind of word it is (nil: a command).
    var completing: (argument: Argument?, prefix: String) {
        let text = editor.text
        guard let space = text.firstIndex(of: " ") else { return (nil, text.lowercased()) }
        let argument = Self.command(named: String(text[..<space]))?.argument ?? Argument.none
        return (argument, String(text[text.index(after: space)...]).trimmingCharacters(in: .whitespaces))
    }

    /// The text before the word under completion.
    private var head: String {
        guard let space = editor.text.firstIndex(of: " ") else { return "" }
        return String(editor.text[...space])
    }

    /// Tab pressed again over a list: fills in the next candidate. False when there is no list.
    mutating func step() -> Bool {
        guard candidates.count > 1 else { return false }
        let next = ((chosen ?? -1) + 1) % candidates.count
        chosen = next
        editor = LineEditor(head + candidates[next])
        return true
    }

    /// Takes the matches for the word under completion: one is filled in whole (a command with a
    /// space after it), several fill in their common prefix and are listed.
    mutating func offer(_ matches: [String]) {
        let isCommand = completing.argument == nil
        candidates = matches
        chosen = nil
        guard let first = matches.first else { return }
        if matches.count == 1 {
            editor = LineEditor(head + first + (isCommand ? " " : ""))
            candidates = []
        } else {
            let shared = matches.dropFirst().reduce(first) { String($0.commonPrefix(with: $1)) }
            if shared.count > completing.prefix.count { editor = LineEditor(head + shared) }
        }
    }

    /// Command names that start with `prefix`; in read-only mode, none that changes data.
    static func commandNames(startingWith prefix: String, readOnly: Bool) -> [String] {
        commands.filter { !(readOnly && $0.changesData) }.map(\.name).filter { $0.hasPrefix(prefix) }
    }

    /// Draws the candidates in a box just above `line` (the status line).
    func renderCandidates(into buffer: inout Buffer, above line: Rect, style: Style, selection: Style, border: Style) {
        guard !candidates.isEmpty else { return }
        let shown = Array(candidates.prefix(8))
        let width = min(line.width - 2, max(24, (shown.map(DisplayWidth.of).max() ?? 0) + 4))
        let height = shown.count + 2 + (candidates.count > shown.count ? 1 : 0)
        let frame = Rect(x: line.x + 1, y: max(0, line.y - height), width: width, height: height)
        buffer.fill(frame, style: style)
        buffer.box(frame, style: border, title: "tab")
        for (index, candidate) in shown.enumerated() {
            buffer.put(candidate, x: frame.x + 2, y: frame.y + 1 + index, style: index == chosen ? selection : style, maxWidth: width - 4)
        }
        if candidates.count > shown.count {
            buffer.put("… \(candidates.count - shown.count) more", x: frame.x + 2, y: frame.maxY - 2, style: style.with(.dim), maxWidth: width - 4)
        }
    }
}
