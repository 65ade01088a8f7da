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
        case load(Page, select: PageKey?)
        /// Ask where a window above or at the bottom starts, then read it.
        case find(Page, count: Int, selectLast: Bool)
        /// Move the window one row down and select the row that came into view.
        case slide(top: PageKey)
    }

    func navigate(_ action: ConsoleAction, _ model: inout ConsoleModel) -> [ConsoleCommand] {
        let window = model.windowSize
        let move = switch model.pane {
        case .sessions: Self.move(action, &model.sessions, window: window)
        case .tokens: Self.move(action, &model.tokens, window: window)
        case .limits: Self.move(action, &model.limits, window: window)
        case .jobs: Self.move(action, &model.jobs, window: window)
        case .audit: Self.move(action, &model.audit, window: window)
        case .pulse: Self.move(action, &model.pulse)
        }
        let pane = model.pane
        switch move {
        case .none:
            return []
        case .load(let page, let select):
            return [load(pane, &model, page: page, select: select.map(RowSelection.key) ?? .keep)]
        case .find(let page, let count, let selectLast):
            return [data.findAnchor(model.query(for: pane), page: page, count: count, selectLast: selectLast)]
        case .slide(let top):
            return [load(pane, &model, page: .from(top), select: .bottom(window: window))]
        }
    }

    /// The Pulse pane holds all its series: keys move the cursor between them.
    private static func move(_ action: ConsoleAction, _ state: inout PulseState) -> WindowMove {
        switch action {
        case .down: state.select(state.selectedLine + 1)
        case .up: state.select(state.selectedLine - 1)
        case .pageDown, .bottom: state.select(state.rowCount - 1)
        case .pageUp, .top: state.select(0)
        default: break
        }
        return .none
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
}
