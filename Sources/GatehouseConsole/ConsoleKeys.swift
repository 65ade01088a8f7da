import TerminalKit

/// What a key can ask the console to do.
public enum ConsoleAction: Hashable, Sendable {
    case quit, help, command, filter, back, details, refresh, pause
    case up, down, pageUp, pageDown, top, bottom
    case nextPane, previousPane, pane(Int)
    case revoke, revokeUser, revokeFamily
    case cancelJob, retryJob, resetBucket, startJob
    case whySession, whyUser
    case earlier, later, zoom
    case mark, copy

    /// Actions that change the database: none is offered, by any key or command, in read-only mode.
    var changesData: Bool {
        switch self {
        case .revoke, .revokeUser, .revokeFamily, .cancelJob, .retryJob, .resetBucket, .startJob, .mark: true
        default: false
        }
    }

    /// Every action, in the order the config file documentation lists them.
    static let all: [ConsoleAction] = [
        .quit, .help, .command, .filter, .back, .details, .refresh, .pause, .up, .down, .pageUp, .pageDown, .top, .bottom,
        .nextPane, .previousPane,
    ] + PaneID.allCases.map { .pane($0.rawValue) } + [.revoke, .revokeUser, .revokeFamily, .cancelJob, .retryJob, .resetBucket, .startJob,
                                                       .whySession, .whyUser, .earlier, .later, .zoom, .mark, .copy]

    /// The name `[keys]` in config.toml uses.
    var configName: String {
        switch self {
        case .quit: "quit"
        case .help: "help"
        case .command: "command"
        case .filter: "filter"
        case .back: "back"
        case .details: "details"
        case .refresh: "refresh"
        case .pause: "pause"
        case .up: "up"
        case .down: "down"
        case .pageUp: "page-up"
        case .pageDown: "page-down"
        case .top: "top"
        case .bottom: "bottom"
        case .nextPane: "next-pane"
        case .previousPane: "previous-pane"
        case .pane(let index): "pane-" + (PaneID(rawValue: index)?.title.lowercased() ?? String(index + 1))
        case .revoke: "revoke"
        case .revokeUser: "revoke-user"
        case .revokeFamily: "revoke-family"
        case .cancelJob: "cancel-job"
        case .retryJob: "retry-job"
        case .resetBucket: "reset-bucket"
        case .startJob: "start-job"
        case .whySession: "why-session"
        case .whyUser: "why-user"
        case .earlier: "earlier"
        case .later: "later"
        case .zoom: "zoom"
        case .mark: "mark"
        case .copy: "copy"
        }
    }

    static var configNames: [String] { all.map(\.configName) }

    init?(configName: String) {
        guard let action = Self.all.first(where: { $0.configName == configName }) else { return nil }
        self = action
    }
}

/// The console's key map. Help and the hint bar are built from it; read-only mode has no
/// action keys at all. No single Ctrl-key does anything destructive.
enum ConsoleKeys {
    /// The keys in force on `pane`: the defaults below with the config file's `[keys]` applied.
    /// A key the config gives to one action is taken from any other that had it by default.
    static func map(readOnly: Bool, pane: PaneID, overrides: [ConsoleAction: [Key]] = [:]) -> KeyMap<ConsoleAction> {
        var map = defaults(readOnly: readOnly, pane: pane)
        guard !overrides.isEmpty else { return map }
        let remapped = Set(overrides.values.joined())
        for index in map.bindings.indices {
            if let keys = overrides[map.bindings[index].action] {
                map.bindings[index].keys = keys
            } else {
                map.bindings[index].keys.removeAll { remapped.contains($0) }
            }
        }
        return map
    }

    private static func defaults(readOnly: Bool, pane: PaneID) -> KeyMap<ConsoleAction> {
        var bindings: [KeyBinding<ConsoleAction>] = []
        if !readOnly {
            switch pane {
            case .sessions:
                bindings.append(KeyBinding([.character("d")], .revoke, "revoke the selected session (asks first)", hint: "revoke", section: "Actions"))
            case .tokens:
                bindings.append(KeyBinding([.character("d")], .revoke, "revoke the selected refresh token (asks first)", hint: "revoke token", section: "Actions"))
                bindings.append(KeyBinding([.character("f")], .revokeFamily, "revoke the selected token's whole family (asks first)", hint: "revoke family", section: "Actions"))
            case .limits:
                bindings.append(KeyBinding([.character("R")], .resetBucket, "reset the selected bucket so its client may go again (asks first)", hint: "reset", section: "Actions"))
            case .jobs:
                bindings.append(KeyBinding([.character("n")], .startJob, "start a document job (a form: kind, user, range)", hint: "new job", section: "Actions"))
                bindings.append(KeyBinding([.character("c")], .cancelJob, "cancel the selected job (running jobs stop at their next checkpoint)", hint: "cancel", section: "Actions"))
                bindings.append(KeyBinding([.character("t")], .retryJob, "retry the selected failed or cancelled job", hint: "retry", section: "Actions"))
            case .audit, .pulse:
                break // the audit log is read, never changed
            }
            if pane == .sessions || pane == .tokens {
                bindings.append(KeyBinding([.character("D")], .revokeUser, "revoke every session of the selected user (type the email to confirm)", hint: "revoke user", section: "Actions"))
            }
        }
        let details = switch pane {
        case .jobs: "details: arguments, documents and audit trail"
        case .audit: "details: every field, the details JSON pretty-printed, the hashes"
        case .limits: "details: the bucket's numbers and the resets it had"
        case .sessions, .tokens: "details: token lineage and audit trail"
        case .pulse: "these events: the selected series and minute in the Audit pane"
        }
        if pane == .pulse {
            bindings.append(KeyBinding([.left, .character("h")], .earlier, "cursor one column earlier", hint: "minute", section: "Views"))
            bindings.append(KeyBinding([.right, .character("l")], .later, "cursor one column later", section: "Views"))
            bindings.append(KeyBinding([.character("z")], .zoom, "zoom: the last hour ⇄ the last 24 hours", hint: "zoom", section: "Views"))
        }
        if pane == .sessions || pane == .tokens {
            // Reading only: offered in read-only mode too.
            bindings.append(KeyBinding([.character("w")], .whySession, "why? the selected session's verdict, evidence and timeline",
                                       hint: pane == .sessions ? "why?" : nil, section: "Views"))
            bindings.append(KeyBinding([.character("W")], .whyUser, "why? every recent session of the selected user", section: "Views"))
        }
        // Mark and copy come last in the hint bar: on a narrow terminal they give way first.
        var last: [KeyBinding<ConsoleAction>] = []
        if !readOnly && pane != .audit && pane != .pulse {
            last.append(KeyBinding([.character(" ")], .mark, "mark or unmark the row (and move down): the action keys then act on every marked row; esc clears the marks",
                                   hint: "mark", section: "Actions"))
        }
        if pane != .pulse {
            let what = switch pane {
            case .sessions: "the selected session's handle"
            case .tokens: "the selected token's fingerprint"
            case .limits: "the selected bucket's key"
            case .jobs: "the selected job's id"
            case .audit, .pulse: "the selected event as JSON"
            }
            last.append(KeyBinding([.character("y")], .copy, "copy \(what) (or every marked row's) to your clipboard, over SSH too (OSC 52)",
                                       hint: "copy", section: "Views"))
        }
        bindings.append(KeyBinding([.enter], .details, details, hint: pane == .pulse ? "audit" : "details", section: "Views"))
        if pane != .pulse {
            bindings.append(KeyBinding([.character("/")], .filter, "filter rows (regular expression; !text inverts)", hint: "filter", section: "Views"))
        }
        bindings += [

            KeyBinding([.character(":")], .command, "command line, tab completes: :tokens EMAIL, \(readOnly ? "" : ":reset KEY, "):theme NAME, :audit TEXT, :q",
                       hint: "cmd", section: "Views"),
            KeyBinding([.character("p")], .pause, "pause or resume live updates", hint: "pause", section: "Views"),
            KeyBinding([.character("r")], .refresh, "refresh now", section: "Views"),
            KeyBinding([.character("?")], .help, "this help", hint: "help", section: "Views"),
            KeyBinding([.escape], .back, "back: close a view, clear the marks, then the filter", section: "Views"),
            KeyBinding([.character("q"), .control("c")], .quit, "quit", hint: "quit", section: "Views"),
            KeyBinding([.tab], .nextPane, "next pane", section: "Panes"),
            KeyBinding([.backTab], .previousPane, "previous pane", section: "Panes"),
        ]
        for pane in PaneID.allCases {
            bindings.append(KeyBinding([.character(Character(String(pane.rawValue + 1)))], .pane(pane.rawValue), "\(pane.title) pane", section: "Panes"))
        }
        bindings += [
            KeyBinding([.up, .character("k")], .up, "move up", section: "Navigation"),
            KeyBinding([.down, .character("j")], .down, "move down", section: "Navigation"),
            KeyBinding([.pageUp, .control("b")], .pageUp, "page up", section: "Navigation"),
            KeyBinding([.pageDown, .control("f")], .pageDown, "page down", section: "Navigation"),
            KeyBinding([.home, .character("g")], .top, "newest (top)", section: "Navigation"),
            KeyBinding([.end, .character("G")], .bottom, "oldest (bottom)", section: "Navigation"),
        ]
        bindings += last
        return KeyMap(bindings)
    }
}
