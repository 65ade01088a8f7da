import Foundation
import GatehouseCore
import TerminalKit

/// The panes, in tab order; `1`…`n` select them.
public enum PaneID: Int, CaseIterable, Sendable {
    case sessions, tokens, limits, jobs, audit, pulse

    var title: String {
        switch self {
        case .sessions: "Sessions"
        case .tokens: "Tokens"
        case .limits: "Limits"
        case .jobs: "Jobs"
        case .audit: "Audit"
        case .pulse: "Pulse"
        }
    }
}

/// A row a pane can show: a stable key for sticky selection and paging, value equality for
/// spotting changed rows, and what a mark holds on to.
protocol PaneRow: Sendable, Equatable {
    var pageKey: PageKey { get }
    /// The row's identity whatever changes in it: a bucket's place in the listing (its blocked
    /// count) changes with every refusal, its key does not.
    var markKey: String { get }
}

extension SessionSummary: PaneRow {
    var pageKey: PageKey { SessionService.pageKey(session) }
    var markKey: String { session.handle }
}

extension RefreshTokenSummary: PaneRow {
    var pageKey: PageKey { RefreshTokenService.pageKey(token) }
    var markKey: String { GatehouseCore.Fingerprint.hex(token.tokenHash) }
}

extension RateLimitBucket: PaneRow {
    var pageKey: PageKey { RateLimiter.pageKey(self) }
    var markKey: String { key }
}

extension Job: PaneRow {
    var pageKey: PageKey { JobQueue.pageKey(self) }
    var markKey: String { String(id) }
}

extension AuditEvent: PaneRow {
    var pageKey: PageKey { AuditLog.pageKey(self) }
    var markKey: String { String(seq) }
}

/// What every pane's window offers whatever its rows: the update and the view use this for
/// the things they do alike (reload in place, filter, select by index, empty or not).
protocol PaneWindow {
    var reloadPage: Page { get }
    var filter: TextFilter? { get set }
    var rowCount: Int { get }
    var loaded: Bool { get }
    mutating func select(_ index: Int)
    mutating func resetSelection()
    /// Rows marked for a bulk action.
    var markCount: Int { get }
    /// Marks the selected row, or unmarks it; false when there is no row.
    mutating func toggleMark() -> Bool
    mutating func clearMarks()
}

extension PaneState: PaneWindow {
    var rowCount: Int { rows.count }

    mutating func resetSelection() {
        selectedKey = nil
        selectedIndex = 0
    }
}

/// One pane's window onto a listing: the rows on screen (plus one, to know if more follow),
/// where the window starts, what is selected and what just changed.
struct PaneState<Row: PaneRow> {
    var rows: [Row] = []
    /// How the current window was read; reloads re-read from the same top row.
    var anchor: Page = .first
    var selectedKey: PageKey?
    var selectedIndex = 0
    var hasMoreBelow = false
    var filter: TextFilter?
    var loaded = false
    /// Keys of rows that appeared or changed, and until when they are highlighted.
    var highlights: [PageKey: (changed: Bool, until: Date)] = [:]
    /// Rows marked for a bulk action (space), in the order marked, as they were when marked:
    /// a mark stays while its row pages out of view.
    var marked: [Row] = []

    var selectedRow: Row? { rows.indices.contains(selectedIndex) ? rows[selectedIndex] : nil }

    var markCount: Int { marked.count }

    /// What an action or a copy applies to: the marked rows, else the selected one.
    var markedOrSelected: [Row] { marked.isEmpty ? (selectedRow.map { [$0] } ?? []) : marked }

    func isMarked(_ row: Row) -> Bool { marked.contains { $0.markKey == row.markKey } }

    mutating func toggleMark() -> Bool {
        guard let row = selectedRow else { return false }
        if let index = marked.firstIndex(where: { $0.markKey == row.markKey }) { marked.remove(at: index) } else { marked.append(row) }
        return true
    }

    mutating func clearMarks() { marked = [] }

    /// Takes a freshly read window, keeping the selection on the same row when it is still there
    /// and marking rows that are new or different since the last read.
    mutating func apply(_ fresh: [Row], windowSize: Int, now: Date, highlightFor seconds: TimeInterval = 2) {
        let visible = Array(fresh.prefix(windowSize))
        if loaded {
            let previous = Dictionary(rows.map { ($0.pageKey, $0) }, uniquingKeysWith: { first, _ in first })
            let newestBefore = rows.first?.pageKey
            for row in visible {
                if let old = previous[row.pageKey] {
                    if old != row { highlights[row.pageKey] = (true, now.addingTimeInterval(seconds)) }
                } else if let newestBefore, row.pageKey.lexicographicallyPrecedes(newestBefore) == false, anchor == .first {
                    highlights[row.pageKey] = (false, now.addingTimeInterval(seconds))
                }
            }
        }
        highlights = highlights.filter { $0.value.until > now }
        rows = visible
        hasMoreBelow = fresh.count > windowSize
        loaded = true
        if let key = selectedKey, let index = rows.firstIndex(where: { $0.pageKey == key }) {
            selectedIndex = index
        } else {
            selectedIndex = min(selectedIndex, max(0, rows.count - 1))
            selectedKey = selectedRow?.pageKey
        }
    }

    mutating func select(_ index: Int) {
        selectedIndex = max(0, min(index, rows.count - 1))
        selectedKey = selectedRow?.pageKey
    }

    /// The page that re-reads this window in place.
    var reloadPage: Page {
        if anchor == .first { return .first }
        return rows.first.map { .from($0.pageKey) } ?? .first
    }
}

/// Keeps pane reads in order and bounded. Every read gets a generation; an answer that is not
/// the latest is dropped (two quick page-downs must not land out of order). A change noticed
/// while a read is still running marks the pane stale instead of starting another read, so a
/// slow filtered scan over a busy database never piles up.
struct LoadTracker {
    private(set) var issued: [PaneID: Int] = [:]
    private(set) var running: [PaneID: Int] = [:]
    var stale: Set<PaneID> = []

    mutating func begin(_ pane: PaneID) -> Int {
        running[pane, default: 0] += 1
        issued[pane, default: 0] += 1
        return issued[pane]!
    }

    /// Records an answer; true when it is the latest and should be shown.
    mutating func finish(_ pane: PaneID, generation: Int) -> Bool {
        running[pane] = max(0, running[pane, default: 0] - 1)
        return generation == issued[pane, default: 0]
    }

    /// Records a read that answered with an error instead of rows.
    mutating func failed(_ pane: PaneID) {
        running[pane] = max(0, running[pane, default: 0] - 1)
    }

    func isRunning(_ pane: PaneID) -> Bool { running[pane, default: 0] > 0 }
}

/// What covers the panes, if anything.
enum Overlay {
    case help(TextView)
    case detail(TextView)
    case confirm(ConfirmDialog, PendingAction)
    case prompt(PromptKind, CommandPalette)
    /// The job-start form; `submitting` while Core is asked, so a second enter does not start two jobs.
    case jobForm(Form, submitting: Bool)
}

enum PromptKind: Equatable {
    case command, filter

    var symbol: String { self == .command ? ":" : "/" }
}

/// A destructive action waiting for its confirmation.
enum PendingAction: Sendable, Equatable {
    case revokeSession(handle: String)
    case revokeUser(email: String)
    case revokeToken(hashHex: String, fingerprint: String)
    case revokeFamily(String)
    case cancelJob(id: Int64)
    case retryJob(id: Int64)
    case resetBucket(key: String)
    case bulk(BulkAction)
    case revokeIssuedBefore(cutoff: Date, email: String?)
}

struct StatusMessage: Equatable {
    enum Kind { case info, error }
    var text: String
    var kind: Kind
}

/// Everything the console shows. One model, changed only by `update`.
struct ConsoleModel {
    var pane: PaneID = .sessions
    var sessions = PaneState<SessionSummary>()
    var tokens = PaneState<RefreshTokenSummary>()
    var limits = PaneState<RateLimitBucket>()
    var jobs = PaneState<Job>()
    var audit = PaneState<AuditEvent>()
    var pulse = PulseState()
    /// A Pulse column opened in the Audit pane: its actions and minutes (esc clears).
    var auditScope: AuditScope?
    /// How far the hash chain is verified (nil until the first step answered).
    var chain: AuditCheckpoint?
    var chainCheckRunning = false
    var loads = LoadTracker()
    /// `:tokens alice@example.com` narrows the tokens pane to one user.
    var tokensUser: String?
    var overlay: Overlay?
    var message: StatusMessage?
    /// Text for the operator's clipboard, sent (OSC 52) by the app once this update is done.
    var clipboard: String?
    var paused = false
    var readOnly: Bool
    var size: Size
    var quit = false
    var databasePath: String
    var operatorName: String
    /// The theme as this terminal shows it, and how many colours that is.
    var theme: ConsoleTheme
    var colorDepth: ColorDepth
    var themes: ThemeCatalog
    /// Keys the config file remaps; `keyMap` applies them.
    var keys: [ConsoleAction: [Key]] = [:]
    /// The time of the message being handled, from Gatehouse's clock.
    var now = Date()

    /// The keys in force on the current pane.
    var keyMap: KeyMap<ConsoleAction> { ConsoleKeys.map(readOnly: readOnly, pane: pane, overrides: keys) }

    /// Table rows that fit: the screen less the header, tabs, column titles, status and hints
    /// (the layout `ConsoleView.render` draws).
    var windowSize: Int { max(1, size.height - 5) }

    /// What `pane` lists now.
    func query(for pane: PaneID) -> PaneQuery {
        switch pane {
        case .sessions: PaneQuery(pane: .sessions, filter: sessions.filter)
        case .tokens: PaneQuery(pane: .tokens, filter: tokens.filter, email: tokensUser)
        case .limits: PaneQuery(pane: .limits, filter: limits.filter)
        case .jobs: PaneQuery(pane: .jobs, filter: jobs.filter)
        case .audit: PaneQuery(pane: .audit, filter: audit.filter, scope: auditScope)
        case .pulse: PaneQuery(pane: .pulse, span: pulse.span, minutesPerPoint: PulsePane.minutesPerPoint(span: pulse.span, width: size.width))
        }
    }

    /// The window of `pane`, seen through what all panes share.
    func window(_ pane: PaneID) -> any PaneWindow {
        switch pane {
        case .sessions: sessions
        case .tokens: tokens
        case .limits: limits
        case .jobs: jobs
        case .audit: audit
        case .pulse: pulse
        }
    }

    /// Changes the window of `pane` through what all panes share.
    mutating func updateWindow(_ pane: PaneID, _ change: (inout any PaneWindow) -> Void) {
        switch pane {
        case .sessions: var w: any PaneWindow = sessions; change(&w); sessions = w as! PaneState<SessionSummary>
        case .tokens: var w: any PaneWindow = tokens; change(&w); tokens = w as! PaneState<RefreshTokenSummary>
        case .limits: var w: any PaneWindow = limits; change(&w); limits = w as! PaneState<RateLimitBucket>
        case .jobs: var w: any PaneWindow = jobs; change(&w); jobs = w as! PaneState<Job>
        case .audit: var w: any PaneWindow = audit; change(&w); audit = w as! PaneState<AuditEvent>
        case .pulse: var w: any PaneWindow = pulse; change(&w); pulse = w as! PulseState
        }
    }

    static let minimumSize = Size(width: 80, height: 24)
    var isTooSmall: Bool { size.width < Self.minimumSize.width || size.height < Self.minimumSize.height }
}
