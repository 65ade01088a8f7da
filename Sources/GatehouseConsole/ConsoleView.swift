import Foundation
import GatehouseCore
import TerminalKit

/// Renders the model into a frame. Pure: the same model and time give the same buffer.
enum ConsoleView {
    static func render(_ model: ConsoleModel, theme: ConsoleTheme, now: Date, into buffer: inout Buffer) {
        let area = buffer.area
        if model.isTooSmall {
            let lines = ["Enlarge the terminal", "Gatehouse needs at least 80×24; this one is \(area.width)×\(area.height).", "q quits"]
            for (offset, line) in lines.enumerated() {
                let y = area.height / 2 - 1 + offset
                let x = max(0, (area.width - DisplayWidth.of(line)) / 2)
                buffer.put(line, x: x, y: y, style: offset == 0 ? theme.header : .plain, maxWidth: area.width - x)
            }
            return
        }
        let (headerArea, rest) = area.splitTop(1)
        let (tabsArea, body) = rest.splitTop(1)
        let (main, footer) = body.splitBottom(2)
        let (statusArea, hintsArea) = footer.splitTop(1)

        renderHeader(model, theme: theme, area: headerArea, into: &buffer)
        var tabs = TabBar(titles: PaneID.allCases.map(\.title), selected: model.pane.rawValue)
        tabs.selectedStyle = theme.tabSelected
        tabs.render(into: &buffer, area: tabsArea)
        renderPaneTitle(model, theme: theme, now: now, area: Rect(x: tabs.width + 2, y: tabsArea.y, width: max(0, tabsArea.width - tabs.width - 2), height: 1),
                        into: &buffer)

        switch model.pane {
        case .sessions:
            table(model.sessions, columns: SessionsPane.columns, sortColumn: 4, theme: theme, now: now,
                  cells: { SessionsPane.cells($0, now: now) }, ended: { SessionsPane.isEnded($0, now: now) })
                .render(into: &buffer, area: main)
        case .tokens:
            table(model.tokens, columns: TokensPane.columns, sortColumn: 2, theme: theme, now: now,
                  cells: { TokensPane.cells($0, now: now) }, ended: TokensPane.isEnded)
                .render(into: &buffer, area: main)
        case .limits:
            table(model.limits, columns: LimitsPane.columns, sortColumn: 5, theme: theme, now: now,
                  cells: { LimitsPane.cells($0, now: now) }, ended: { LimitsPane.isQuiet($0, now: now) },
                  warn: { LimitsPane.isBlocking($0, now: now) })
                .render(into: &buffer, area: main)
        case .jobs:
            table(model.jobs, columns: JobsPane.columns, sortColumn: 0, theme: theme, now: now,
                  cells: { JobsPane.cells($0, now: now) }, ended: JobsPane.isEnded, warn: { $0.state == .failed })
                .render(into: &buffer, area: main)
        case .audit:
            table(model.audit, columns: AuditPane.columns, sortColumn: 0, theme: theme, now: now,
                  cells: { AuditPane.cells($0) }, ended: { _ in false }, warn: { $0.outcome != "success" })
                .render(into: &buffer, area: main)
        case .pulse:
            PulsePane.render(model.pulse, theme: theme, area: main, into: &buffer)
        }
        if emptyPane(model) {
            buffer.put(emptyText(model), x: main.x + 2, y: main.y + 2, style: theme.muted, maxWidth: main.width - 4)
        }

        renderStatus(model, theme: theme, area: statusArea, into: &buffer)
        var hints = KeyHintBar(hints: model.keyMap.hints)
        hints.keyStyle = theme.accent
        hints.render(into: &buffer, area: hintsArea)

        renderOverlay(model, theme: theme, area: body, into: &buffer)
    }

    private static func renderHeader(_ model: ConsoleModel, theme: ConsoleTheme, area: Rect, into buffer: inout Buffer) {
        buffer.fill(area)
        var right = "operator \(model.operatorName)"
        if model.readOnly { right = "READ-ONLY  " + right }
        if model.paused { right = "PAUSED  " + right }
        // The flags on the right matter more than the path, which gives way first.
        let rightWidth = min(DisplayWidth.of(right), area.width)
        buffer.put(right, x: area.maxX - rightWidth, y: area.y, style: model.paused || model.readOnly ? theme.changedRow : theme.muted)
        let x = buffer.put("Gatehouse console", x: 0, y: area.y, style: theme.header, maxWidth: area.width - rightWidth - 1)
        let room = area.width - rightWidth - x - 3
        if room > 8 {
            buffer.put("  " + DisplayWidth.truncate(model.databasePath, to: room), x: x, y: area.y, style: theme.muted)
        }
    }

    private static func renderPaneTitle(_ model: ConsoleModel, theme: ConsoleTheme, now: Date, area: Rect, into buffer: inout Buffer) {
        var parts: [String] = []
        let marked = model.window(model.pane).markCount
        if marked > 0 { parts.append("\(marked) marked") }
        let query = model.query(for: model.pane)
        if let user = query.email { parts.append("user \(user)") }
        if let scope = query.scope { parts.append("pulse: \(scope.label)") }
        if let filter = query.filter { parts.append("filter /\(filter.inverted ? "!" : "")\(filter.pattern)") }
        var text = parts.isEmpty ? "" : parts.joined(separator: "  ") + "  (esc clears)"
        var style = theme.info
        if model.pane == .audit, let chain = AuditPane.chainStatus(model.chain, now: now) {
            text = text.isEmpty ? chain.text : text + "   " + chain.text
            style = chain.broken ? theme.error : (model.chain?.isIntact == true ? theme.ok : theme.info)
        }
        guard !text.isEmpty, area.width > 8 else { return }
        // Right-aligned in the room the tabs leave; a title too long for it is cut at its end.
        let shown = DisplayWidth.truncate(text, to: area.width)
        let width = DisplayWidth.of(shown)
        buffer.put(shown, x: area.maxX - width, y: area.y, style: style)
    }

    /// `sortColumn` marks the column whose order the listing follows (newest first).
    private static func table<Row: PaneRow>(_ state: PaneState<Row>, columns: [TableColumn], sortColumn: Int, theme: ConsoleTheme, now: Date,
                                            cells: (Row) -> [String], ended: (Row) -> Bool, warn: (Row) -> Bool = { _ in false }) -> Table {
        var table = Table(columns: columns, rows: state.rows.map(cells))
        table.selected = state.rows.isEmpty ? nil : state.selectedIndex
        table.sortColumn = sortColumn
        table.headerStyle = theme.tableHeader
        table.selectionStyle = theme.selection
        for (index, row) in state.rows.enumerated() {
            if state.isMarked(row) {
                table.rowStyles[index] = theme.marked
            } else if let mark = state.highlights[row.pageKey], mark.until > now {
                table.rowStyles[index] = mark.changed ? theme.changedRow : theme.newRow
            } else if warn(row) {
                table.rowStyles[index] = theme.warn
            } else if ended(row) {
                table.rowStyles[index] = theme.ended
            }
        }
        return table
    }

    private static func emptyPane(_ model: ConsoleModel) -> Bool {
        let window = model.window(model.pane)
        // The Pulse says it is reading until its first reading lands (it then always has lines).
        return model.pane == .pulse ? !window.loaded : window.loaded && window.rowCount == 0
    }

    private static func emptyText(_ model: ConsoleModel) -> String {
        let query = model.query(for: model.pane)
        let filtered = query.filter != nil || query.email != nil || query.scope != nil
        if filtered { return "Nothing matches. esc clears the filter." }
        switch model.pane {
        case .sessions: return "No sessions yet. They appear here as soon as anyone logs in."
        case .tokens: return "No refresh tokens yet."
        case .limits: return "No rate-limit buckets yet. One appears with the first request a policy counts."
        case .jobs: return model.readOnly ? "No document jobs yet." : "No document jobs yet. Press n to start one."
        case .audit: return "The audit log is empty."
        case .pulse: return "Reading the pulse…"
        }
    }

    private static func renderStatus(_ model: ConsoleModel, theme: ConsoleTheme, area: Rect, into buffer: inout Buffer) {
        buffer.fill(area)
        if case .prompt(let kind, let palette) = model.overlay {
            palette.editor.render(into: &buffer, area: area, prompt: kind.symbol)
            palette.renderCandidates(into: &buffer, above: area, style: theme.text, selection: theme.selection, border: theme.border)
            return
        }
        if let message = model.message {
            buffer.put(message.text, x: area.x, y: area.y, style: message.kind == .error ? theme.error : theme.info, maxWidth: area.width)
        }
    }

    private static func renderOverlay(_ model: ConsoleModel, theme: ConsoleTheme, area: Rect, into buffer: inout Buffer) {
        switch model.overlay {
        case .help(let view), .detail(let view):
            view.render(into: &buffer, area: area, border: theme.border)
        case .confirm(let dialog, _):
            dialog.render(into: &buffer, area: area, accent: theme.error)
        case .jobForm(let form, let submitting):
            var shown = form
            if submitting { shown.error = "starting…" }
            shown.render(into: &buffer, area: area, accent: theme.border, errorStyle: submitting ? theme.info : theme.error)
        case .prompt, .none:
            break
        }
    }
}
