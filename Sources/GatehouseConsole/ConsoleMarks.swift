import Foundation
import GatehouseCore
import TerminalKit

/// A destructive action over many rows: what it changes and the targets, in the order marked.
enum BulkAction: Sendable, Equatable {
    case revokeSessions([String])
    case revokeTokens([(hashHex: String, fingerprint: String)])
    case revokeFamilies([String])
    case resetBuckets([String])
    case cancelJobs([Int64])

    static func == (lhs: BulkAction, rhs: BulkAction) -> Bool { lhs.targets == rhs.targets && lhs.verb == rhs.verb }

    /// How each target is named on screen and in the summary audit row.
    var targets: [String] {
        switch self {
        case .revokeSessions(let handles): handles
        case .revokeTokens(let tokens): tokens.map(\.fingerprint)
        case .revokeFamilies(let families): families
        case .resetBuckets(let keys): keys
        case .cancelJobs(let ids): ids.map { String($0) }
        }
    }

    /// The word typed to confirm past the threshold, and the summary row's reason.
    var verb: String {
        switch self {
        case .revokeSessions, .revokeTokens, .revokeFamilies: "revoke"
        case .resetBuckets: "reset"
        case .cancelJobs: "cancel"
        }
    }

    var pastTense: String {
        switch self {
        case .revokeSessions, .revokeTokens, .revokeFamilies: "revoked"
        case .resetBuckets: "reset"
        case .cancelJobs: "cancelled"
        }
    }

    var noun: String {
        switch self {
        case .revokeSessions: "session"
        case .revokeTokens: "refresh token"
        case .revokeFamilies: "refresh family"
        case .resetBuckets: "rate-limit bucket"
        case .cancelJobs: "job"
        }
    }

    /// "session" for one, "sessions" (or "refresh families") for more.
    func nouns(_ count: Int) -> String {
        if count == 1 { return noun }
        if case .revokeFamilies = self { return "refresh families" }
        return noun + "s"
    }

    /// "1 session", "3 refresh families".
    func counted(_ count: Int) -> String { "\(count) \(nouns(count))" }

    /// The summary audit row's action name.
    var summaryAction: String {
        switch self {
        case .revokeSessions: "sessions.bulk_revoked"
        case .revokeTokens: "refresh_tokens.bulk_revoked"
        case .revokeFamilies: "refresh_families.bulk_revoked"
        case .resetBuckets: "rate_limits.bulk_reset"
        case .cancelJobs: "jobs.bulk_cancelled"
        }
    }

    /// More targets than this ask for the verb typed out, not just y.
    static let typedThreshold = 5
    /// Targets the confirmation names before "and N more".
    static let named = 5
}

/// Marks (space), bulk actions over them, and copying to the clipboard (`y`).
extension ConsoleUpdate {
    func toggleMark(_ model: inout ConsoleModel) -> [ConsoleCommand] {
        var toggled = false
        model.updateWindow(model.pane) { toggled = $0.toggleMark() }
        guard toggled else { return [] }
        let count = model.window(model.pane).markCount
        // The keys in force (remapped ones too) whose action has a bulk form on this pane.
        let keys = model.keyMap.bindings.filter { Self.bulkCapable.contains($0.action) }.compactMap { $0.keys.first?.label }
        model.message = StatusMessage(text: count == 0 ? "no rows marked" : "\(count) marked: \(keys.joined(separator: ", ")) act on all of them; esc clears the marks",
                                      kind: .info)
        return navigate(.down, &model)
    }

    /// Clears the current pane's marks; false when there were none.
    func clearMarks(_ model: inout ConsoleModel) -> Bool {
        guard model.window(model.pane).markCount > 0 else { return false }
        model.updateWindow(model.pane) { $0.clearMarks() }
        model.message = StatusMessage(text: "marks cleared", kind: .info)
        return true
    }

    /// The actions that act on every marked row (`bulkAction` maps each on its pane).
    static let bulkCapable: Set<ConsoleAction> = [.revoke, .revokeFamily, .resetBucket, .cancelJob]

    /// The bulk action `action` stands for on the current pane's marks; nil without marks.
    func bulkAction(_ action: ConsoleAction, _ model: ConsoleModel) -> BulkAction? {
        switch (action, model.pane) {
        case (.revoke, .sessions) where !model.sessions.marked.isEmpty:
            .revokeSessions(model.sessions.marked.map(\.session.handle))
        case (.revoke, .tokens) where !model.tokens.marked.isEmpty:
            .revokeTokens(model.tokens.marked.map { (GatehouseCore.Fingerprint.hex($0.token.tokenHash), $0.token.fingerprint) })
        case (.revokeFamily, .tokens) where !model.tokens.marked.isEmpty:
            .revokeFamilies(Self.unique(model.tokens.marked.map(\.token.family)))
        case (.resetBucket, .limits) where !model.limits.marked.isEmpty:
            .resetBuckets(model.limits.marked.map(\.key))
        case (.cancelJob, .jobs) where !model.jobs.marked.isEmpty:
            .cancelJobs(model.jobs.marked.map(\.id))
        default: nil
        }
    }

    /// `values` without repeats, in their first order (two marked tokens of one family revoke it once).
    static func unique(_ values: [String]) -> [String] {
        var seen = Set<String>()
        return values.filter { seen.insert($0).inserted }
    }

    /// The confirmation names the count and the first targets; past the threshold the verb is typed.
    func confirmBulk(_ bulk: BulkAction, _ model: inout ConsoleModel) {
        let targets = bulk.targets
        let count = targets.count
        var lines = ["\(bulk.verb.capitalized) \(count) marked \(bulk.nouns(count))?"]
        lines += targets.prefix(BulkAction.named).map { "  " + $0 }
        if count > BulkAction.named { lines.append("  …and \(count - BulkAction.named) more") }
        lines.append("One audit row per \(bulk.noun), and one for the whole action.")
        let typed = count > BulkAction.typedThreshold
        if typed { lines.append("Type \(bulk.verb) to confirm.") }
        model.overlay = .confirm(ConfirmDialog(title: "\(bulk.verb.capitalized) \(bulk.counted(count))", lines: lines,
                                               expected: typed ? bulk.verb : nil), .bulk(bulk))
    }

    /// `y`: the selected row's identifier (or every marked row's, a line each) to the clipboard.
    func copy(_ model: inout ConsoleModel) {
        let pane = model.pane
        let (items, what): ([String], String) = switch pane {
        case .sessions: (model.sessions.markedOrSelected.map(\.session.handle), "handle")
        case .tokens: (model.tokens.markedOrSelected.map(\.token.fingerprint), "fingerprint")
        case .limits: (model.limits.markedOrSelected.map(\.key), "bucket key")
        case .jobs: (model.jobs.markedOrSelected.map { String($0.id) }, "job id")
        case .audit: (model.audit.selectedRow.map { [AuditDetail.json($0)] } ?? [], "audit event")
        case .pulse: ([], "")
        }
        guard !items.isEmpty else {
            model.message = StatusMessage(text: "nothing to copy here", kind: .info)
            return
        }
        model.clipboard = items.joined(separator: "\n")
        let shown = pane == .audit ? "#\(model.audit.selectedRow?.seq ?? 0) as JSON" : (items.count == 1 ? items[0] : "\(items.count) marked")
        model.message = StatusMessage(text: "copied \(what) \(shown) to the clipboard (OSC 52)", kind: .info)
    }
}
