import Foundation
import GatehouseCore
import TerminalKit

/// Moving through a pane that holds only one window of rows: at the window's edges the
/// selection moves the window, by asking Core for the neighbouring keyset page.
extension ConsoleUpdate {
    /// What a navigation key needs beyond moving the selection inside the window.
    private enum WindowMove {
        case none
        /// Read a window; `select` picks a row by key, nil keeps the index.
        case load(Page, select: [Int64]?)
        /// Ask where a window above or at the bottom starts, then read it.
        case find(Page, count: Int, selectLast: Bool)
        /// Move the window one row down and select the row that came into view.
        case slide(top: [Int64])
    }

    func navigate(_ action: ConsoleAction, _ model: inout ConsoleModel) -> [ConsoleCommand] {
        let window = model.windowSize
        let move = switch model.pane {
        case .sessions: Self.move(action, &model.sessions, window: window)
        case .tokens: Self.move(action, &model.tokens, window: window)
        }
        let pane = model.pane
        switch move {
        case .none:
            return []
        case .load(let page, let select):
            return [load(pane, &model, page: page, select: select)]
        case .find(let page, let count, let selectLast):
            let filter = pane == .sessions ? model.sessions.filter : model.tokens.filter
            return [data.findAnchor(pane: pane, page: page, filter: filter, email: model.tokensUser, count: count, selectLast: selectLast)]
        case .slide(let top):
            return [slideDown(pane, top: top, &model)]
        }
    }

    private static func move<Row: PaneRow>(_ action: ConsoleAction, _ state: inout PaneState<Row>, window: Int) -> WindowMove {
        switch action {
        case .down:
            if state.selectedIndex + 1 < state.rows.count {
                state.select(state.selectedIndex + 1)
            } else if state.hasMoreBelow, state.rows.count > 1 {
                return .slide(top: state.rows[1].pageKey)
            }
        case .up:
            if state.selectedIndex > 0 {
                state.select(state.selectedIndex - 1)
            } else if state.anchor != .first, let top = state.rows.first {
                return .find(.before(top.pageKey), count: 1, selectLast: false)
            }
        case .pageDown:
            if state.hasMoreBelow, let last = state.rows.last { return .load(.after(last.pageKey), select: nil) }
            state.select(state.rows.count - 1)
        case .pageUp:
            if state.anchor != .first, let top = state.rows.first { return .find(.before(top.pageKey), count: window, selectLast: false) }
            state.select(0)
        case .top:
            state.selectedKey = nil
            state.selectedIndex = 0
            return .load(.first, select: nil)
        case .bottom:
            return .find(.last, count: window, selectLast: true)
        default:
            break
        }
        return .none
    }

    /// Re-reads the window one row lower and selects the row that came into view at the bottom.
    private func slideDown(_ pane: PaneID, top: [Int64], _ model: inout ConsoleModel) -> ConsoleCommand {
        let window = model.windowSize
        let email = model.tokensUser
        let filter = pane == .sessions ? model.sessions.filter : model.tokens.filter
        let gatehouse = data.gatehouse
        let generation = model.loads.begin(pane)
        @Sendable func bottom(_ keys: [[Int64]]) -> [Int64]? { keys.isEmpty ? nil : keys[min(window - 1, keys.count - 1)] }
        return {
            do {
                switch pane {
                case .sessions:
                    let rows = try await gatehouse.sessions.list(.init(text: filter), limit: window + 1, page: .from(top))
                    return .sessionsLoaded(rows, anchor: .from(top), select: bottom(rows.map(\.pageKey)), generation: generation)
                case .tokens:
                    let rows = try await gatehouse.refreshTokens.list(.init(email: email, text: filter), limit: window + 1, page: .from(top))
                    return .tokensLoaded(rows, anchor: .from(top), select: bottom(rows.map(\.pageKey)), generation: generation)
                }
            } catch { return .loadFailed(pane, describe(error)) }
        }
    }

    // MARK: - Destructive actions

    /// Opens the confirmation that names exactly what will be revoked.
    func confirm(_ action: ConsoleAction, _ model: inout ConsoleModel) {
        let now = model.now
        switch (action, model.pane) {
        case (.revoke, .sessions):
            guard let row = model.sessions.selectedRow else { return }
            let s = row.session
            guard s.effectiveState(at: now) == .active else {
                model.message = StatusMessage(text: "session \(s.handle) has already ended (\(s.effectiveState(at: now).rawValue))", kind: .info)
                return
            }
            model.overlay = .confirm(ConfirmDialog(title: "Revoke session", lines: [
                "Revoke session \(s.handle) of \(row.email)?",
                "\(s.kind.rawValue) session from \(s.ip ?? "unknown IP"), created \(Ago.since(s.createdAt, now: now)).",
                s.kind == .api ? "Its refresh family (\(row.familySize) token(s)) is revoked with it." : "Its cookie stops working at the next request.",
            ]), .revokeSession(handle: s.handle))
        case (.revoke, .tokens):
            guard let row = model.tokens.selectedRow else { return }
            guard row.token.state == .active else {
                model.message = StatusMessage(text: "token \(row.token.fingerprint) is not active (\(row.token.state.rawValue))", kind: .info)
                return
            }
            model.overlay = .confirm(ConfirmDialog(title: "Revoke refresh token", lines: [
                "Revoke refresh token \(row.token.fingerprint) of \(row.email)?",
                "Family \(row.token.family), session \(row.sessionHandle).",
                "The session stays; its next refresh with this token fails.",
            ]), .revokeToken(hashHex: GatehouseCore.Fingerprint.hex(row.token.tokenHash), fingerprint: row.token.fingerprint))
        case (.revokeFamily, .tokens):
            guard let row = model.tokens.selectedRow else { return }
            model.overlay = .confirm(ConfirmDialog(title: "Revoke refresh family", lines: [
                "Revoke every active token of family \(row.token.family) (\(row.email))?",
                "Session \(row.sessionHandle) stays; its access token lives until it expires.",
            ]), .revokeFamily(row.token.family))
        case (.revokeUser, _):
            let email = model.pane == .sessions ? model.sessions.selectedRow?.email : model.tokens.selectedRow?.email
            guard let email else { return }
            model.overlay = .confirm(ConfirmDialog(title: "Revoke every session of a user", lines: [
                "Revoke EVERY active session of \(email), with their refresh tokens?",
                "Type the email address to confirm.",
            ], expected: email), .revokeUser(email: email))
        default:
            break
        }
    }
}
