import Foundation
import GatehouseCore
import TerminalKit

/// The update function: the only place the model changes. Side effects come back as commands.
struct ConsoleUpdate {
    let data: ConsoleDataSource

    func update(_ model: inout ConsoleModel, _ message: ConsoleMessage, now: Date) -> [ConsoleCommand] {
        model.now = now
        switch message {
        case .event(.resize(let size)):
            model.size = size
            return reloadAll(&model)
        case .event(.key(let key)):
            return handle(key, &model, now: now) + pulseIfShown(&model)
        case .event(.mouse(let button, _, let y)):
            return mouse(button, row: y, &model)
        case .tick:
            // The chain is verified while someone looks at it, one step per tick, so that the
            // verification of ten million rows never competes with what is on screen.
            return [data.checkChanges()] + (model.pane == .audit ? checkChain(&model) : []) + pulseMinuteTurned(&model, now: now)
        case .databaseChanged(let changed):
            guard changed && !model.paused else { return [] }
            var commands: [ConsoleCommand] = []
            for pane in PaneID.allCases {
                // The pulse is read while it is on screen; elsewhere it is only marked stale.
                if model.loads.isRunning(pane) || (pane == .pulse && model.pane != .pulse) {
                    model.loads.stale.insert(pane)
                } else {
                    commands.append(reload(pane, &model))
                }
            }
            return commands
        case .loaded(let rows, let anchor, let select, let generation):
            let pane = rows.pane
            if model.loads.finish(pane, generation: generation) {
                let window = model.windowSize
                switch rows {
                case .sessions(let rows): Self.land(rows, anchor: anchor, select: select, in: &model.sessions, window: window, now: now)
                case .tokens(let rows): Self.land(rows, anchor: anchor, select: select, in: &model.tokens, window: window, now: now)
                case .limits(let rows): Self.land(rows, anchor: anchor, select: select, in: &model.limits, window: window, now: now)
                case .jobs(let rows): Self.land(rows, anchor: anchor, select: select, in: &model.jobs, window: window, now: now)
                case .audit(let rows): Self.land(rows, anchor: anchor, select: select, in: &model.audit, window: window, now: now)
                case .pulse(let reading):
                    model.pulse.reading = reading
                    model.pulse.select(model.pulse.selectedLine)
                }
            }
            return reloadIfStale(pane, &model)
        case .loadFailed(let pane, let text):
            model.loads.failed(pane)
            model.message = StatusMessage(text: text, kind: .error)
            return []
        case .reanchor(let pane, let page, let select):
            return [load(pane, &model, page: page, select: select.map(RowSelection.key) ?? .keep)]
        case .detailLoaded(let view):
            model.overlay = .detail(view)
            return []
        case .chainChecked(let checkpoint):
            model.chain = checkpoint
            model.chainCheckRunning = false
            return []
        case .jobStarted(let text):
            model.overlay = nil
            model.message = StatusMessage(text: text, kind: .info)
            model.jobs.resetSelection()
            return [load(.jobs, &model, page: .first)]
        case .jobRefused(let text):
            if case .jobForm(var form, _) = model.overlay {
                form.error = text
                model.overlay = .jobForm(form, submitting: false)
            } else {
                model.message = StatusMessage(text: text, kind: .error)
            }
            return []
        case .completions(let text, let matches):
            if case .prompt(.command, var palette) = model.overlay, palette.editor.text == text {
                palette.offer(matches)
                model.overlay = .prompt(.command, palette)
            }
            return []
        case .confirm(let dialog, let action):
            // A key pressed meanwhile must not answer a dialog it was not meant for.
            guard model.overlay == nil else {
                model.message = StatusMessage(text: "\(dialog.title): not asked, another dialog or prompt was open; nothing was changed", kind: .error)
                return []
            }
            model.overlay = .confirm(dialog, action)
            return []
        case .actionDone(let text):
            model.message = StatusMessage(text: text, kind: .info)
            return reloadAll(&model)
        case .failed(let text):
            model.message = StatusMessage(text: text, kind: .error)
            return []
        }
    }

    // MARK: - Loading

    /// Puts a window that was read into its pane.
    private static func land<Row: PaneRow>(_ rows: [Row], anchor: Page, select: PageKey?, in state: inout PaneState<Row>,
                                           window: Int, now: Date) {
        state.anchor = anchor
        if let select { state.selectedKey = select }
        state.apply(rows, windowSize: window, now: now)
    }

    /// Re-reads every pane (a resize, `r`, an action done); the Pulse only while it is on screen.
    func reloadAll(_ model: inout ConsoleModel) -> [ConsoleCommand] {
        PaneID.allCases.compactMap { pane in
            if pane == .pulse && model.pane != .pulse {
                model.loads.stale.insert(.pulse)
                return nil
            }
            return reload(pane, &model)
        }
    }

    /// Starts the next verification step unless one is running or the chain is known broken.
    private func checkChain(_ model: inout ConsoleModel) -> [ConsoleCommand] {
        guard !model.chainCheckRunning, model.chain?.isIntact ?? true else { return [] }
        model.chainCheckRunning = true
        return [data.checkChain(after: model.chain)]
    }

    /// Re-reads a pane's window in place.
    func reload(_ pane: PaneID, _ model: inout ConsoleModel) -> ConsoleCommand {
        load(pane, &model, page: model.window(pane).reloadPage)
    }

    private func reloadIfStale(_ pane: PaneID, _ model: inout ConsoleModel) -> [ConsoleCommand] {
        guard model.loads.stale.contains(pane), !model.loads.isRunning(pane) else { return [] }
        model.loads.stale.remove(pane)
        return [reload(pane, &model)]
    }

    func load(_ pane: PaneID, _ model: inout ConsoleModel, page: Page, select: RowSelection = .keep) -> ConsoleCommand {
        let generation = model.loads.begin(pane)
        return data.load(model.query(for: pane), page: page, limit: model.windowSize + 1, select: select, generation: generation)
    }

    // MARK: - Keys

    private func handle(_ key: Key, _ model: inout ConsoleModel, now: Date) -> [ConsoleCommand] {
        if let overlay = model.overlay { return handleOverlay(overlay, key, &model) }
        if model.isTooSmall {
            if key == .character("q") || key == .control("c") { model.quit = true }
            return []
        }
        guard let action = model.keyMap.action(for: key) else {
            // Read-only has no action keys; one pressed anyway is answered, not silently dropped.
            if model.readOnly, let action = ConsoleKeys.map(readOnly: false, pane: model.pane, overrides: model.keys).action(for: key),
               action.changesData {
                refuseReadOnly(action.configName, &model)
            }
            return []
        }
        return perform(action, &model)
    }

    func perform(_ action: ConsoleAction, _ model: inout ConsoleModel) -> [ConsoleCommand] {
        // Read-only offers no action: the key map has none, and a remapped key or a command cannot reach one.
        if action.changesData && model.readOnly {
            refuseReadOnly(action.configName, &model)
            return []
        }
        switch action {
        case .quit: model.quit = true
        case .help:
            var lines = model.keyMap.helpLines
            lines.append(StyledLine(""))
            lines.append(StyledLine("Theme \(model.theme.name) in \(model.colorDepth.description)\(model.keys.isEmpty ? "" : "; keys remapped by config.toml")", style: model.theme.muted))
            model.overlay = .help(TextView(title: "Keys — \(model.pane.title)\(model.readOnly ? " (read-only)" : "")", lines: lines))
        case .command: model.overlay = .prompt(.command, CommandPalette())
        case .filter:
            let current = model.query(for: model.pane).filter.map { ($0.inverted ? "!" : "") + $0.pattern } ?? ""
            model.overlay = .prompt(.filter, CommandPalette(editor: LineEditor(current)))
        case .back:
            if clearMarks(&model) { return [] }
            if model.query(for: model.pane).filter != nil {
                setFilter(nil, &model)
                return [load(model.pane, &model, page: .first)]
            }
            if model.pane == .audit, model.auditScope != nil {
                model.auditScope = nil
                model.audit.resetSelection()
                return [load(.audit, &model, page: .first)]
            }
            if model.pane == .tokens, model.tokensUser != nil {
                model.tokensUser = nil
                model.tokens.clearMarks()
                return [load(.tokens, &model, page: .first)]
            }
            model.message = nil
        case .refresh: return reloadAll(&model)
        case .pause:
            model.paused.toggle()
            let key = model.keyMap.bindings.first { $0.action == .pause }?.keys.first.map(\.label) ?? "pause"
            model.message = StatusMessage(text: model.paused ? "live updates paused (\(key) resumes)" : "live updates resumed", kind: .info)
            return model.paused ? [] : reloadAll(&model)
        case .details: return details(&model)
        case .whySession, .whyUser: return why(action, &model)
        case .nextPane: model.pane = PaneID(rawValue: (model.pane.rawValue + 1) % PaneID.allCases.count)!
        case .previousPane: model.pane = PaneID(rawValue: (model.pane.rawValue + PaneID.allCases.count - 1) % PaneID.allCases.count)!
        case .pane(let index): model.pane = PaneID(rawValue: index) ?? model.pane
        case .up, .down, .pageUp, .pageDown, .top, .bottom: return navigate(action, &model)
        case .earlier, .later: movePulseCursor(action, &model)
        case .zoom: return setPulseSpan(model.pulse.span == 60 ? 1440 : 60, &model)
        case .mark: return toggleMark(&model)
        case .copy: copy(&model)
        case .startJob:
            model.overlay = .jobForm(JobStartForm.make(user: model.sessions.selectedRow?.email, now: model.now), submitting: false)
        case .revoke, .revokeUser, .revokeFamily, .cancelJob, .retryJob, .resetBucket: confirm(action, &model)
        }
        return []
    }

    /// The status line's answer to any attempt to change data in read-only mode.
    func refuseReadOnly(_ what: String, _ model: inout ConsoleModel) {
        model.message = StatusMessage(text: "read-only: \(what) is not available: this console is read-only", kind: .error)
    }

    /// A new filter shows other rows: the marks go with the old view (an action must never reach
    /// rows the operator no longer sees).
    private func setFilter(_ filter: TextFilter?, _ model: inout ConsoleModel) {
        model.updateWindow(model.pane) { window in
            window.clearMarks()
            window.filter = filter
            window.resetSelection()
        }
    }

    private func details(_ model: inout ConsoleModel) -> [ConsoleCommand] {
        switch model.pane {
        case .sessions: return model.sessions.selectedRow.map { [data.loadSessionDetail(handle: $0.session.handle, theme: model.theme)] } ?? []
        case .tokens: return model.tokens.selectedRow.map { [data.loadSessionDetail(handle: $0.sessionHandle, theme: model.theme)] } ?? []
        case .limits: return model.limits.selectedRow.map { [data.loadBucketDetail(key: $0.key)] } ?? []
        case .jobs: return model.jobs.selectedRow.map { [data.loadJobDetail(id: $0.id, theme: model.theme)] } ?? []
        case .pulse: return openPulseInAudit(&model)
        case .audit:
            // The row already holds everything the detail shows: no read needed.
            if let event = model.audit.selectedRow { model.overlay = .detail(AuditDetail.view(event)) }
            return []
        }
    }

    /// `w` / `W`: the forensics of the selected session, or of its user.
    private func why(_ action: ConsoleAction, _ model: inout ConsoleModel) -> [ConsoleCommand] {
        let selected: (handle: String, email: String)? = switch model.pane {
        case .sessions: model.sessions.selectedRow.map { ($0.session.handle, $0.email) }
        case .tokens: model.tokens.selectedRow.map { ($0.sessionHandle, $0.email) }
        default: nil
        }
        guard let selected else { return [] }
        let subject: Forensics.Subject = action == .whyUser ? .user(email: selected.email) : .session(handle: selected.handle)
        return [data.loadWhy(subject, theme: model.theme)]
    }

    /// With `--mouse`: the wheel moves the selection, a click selects a row.
    private func mouse(_ button: MouseButton, row y: Int, _ model: inout ConsoleModel) -> [ConsoleCommand] {
        guard model.overlay == nil, !model.isTooSmall, model.pane != .pulse else { return [] }
        switch button {
        case .wheelUp: return navigate(.up, &model)
        case .wheelDown: return navigate(.down, &model)
        case .left:
            // Rows start below the header, the tabs and the column titles.
            let index = y - 3
            model.updateWindow(model.pane) { window in
                if index >= 0 && index < window.rowCount { window.select(index) }
            }
            return []
        default: return []
        }
    }

    // MARK: - Overlays

    private func handleOverlay(_ overlay: Overlay, _ key: Key, _ model: inout ConsoleModel) -> [ConsoleCommand] {
        let page = max(1, model.size.height - 4)
        switch overlay {
        case .help(var view):
            if [.escape, .character("q"), .enter, .character("?")].contains(key) {
                model.overlay = nil
            } else if view.handle(key, pageHeight: page) {
                model.overlay = .help(view)
            }
            return []
        case .detail(var view):
            if [.escape, .character("q"), .enter].contains(key) {
                model.overlay = nil
            } else if view.handle(key, pageHeight: page) {
                model.overlay = .detail(view)
            }
            return []
        case .confirm(var dialog, let action):
            switch dialog.handle(key) {
            case .pending: model.overlay = .confirm(dialog, action)
            case .cancelled:
                model.overlay = nil
                model.message = StatusMessage(text: "cancelled; nothing was changed", kind: .info)
            case .confirmed:
                model.overlay = nil
                if case .bulk = action { model.updateWindow(model.pane) { $0.clearMarks() } }
                return [data.perform(action)]
            }
            return []
        case .jobForm(var form, let submitting):
            guard !submitting else { return [] }
            let kindBefore = form["kind"]
            switch form.handle(key) {
            case .cancelled:
                model.overlay = nil
                model.message = StatusMessage(text: "no job started", kind: .info)
            case .submitted:
                model.overlay = .jobForm(form, submitting: true)
                return [data.startJob(JobStartForm.request(form))]
            case .pending:
                if form["kind"] != kindBefore { form = JobStartForm.kindChanged(form, now: model.now) }
                model.overlay = .jobForm(form, submitting: false)
            }
            return []
        case .prompt(let kind, var palette):
            switch key {
            case .escape: model.overlay = nil
            case .enter:
                model.overlay = nil
                return kind == .command ? runCommand(palette.editor.text, &model) : applyFilter(palette.editor.text, &model)
            case .tab where kind == .command:
                if palette.step() {
                    model.overlay = .prompt(kind, palette)
                    return []
                }
                return complete(&palette, &model)
            default:
                _ = palette.editor.handle(key)
                palette.candidates = []
                palette.chosen = nil
                model.overlay = .prompt(kind, palette)
            }
            return []
        }
    }

    /// Completes the word under the cursor: commands and themes here, emails and bucket keys
    /// from the database (answered by `.completions`).
    private func complete(_ palette: inout CommandPalette, _ model: inout ConsoleModel) -> [ConsoleCommand] {
        let (argument, prefix) = palette.completing
        switch argument {
        case nil: palette.offer(CommandPalette.commandNames(startingWith: prefix, readOnly: model.readOnly))
        case .theme?: palette.offer(model.themes.names().filter { $0.hasPrefix(prefix) })
        case .email?: return [data.complete(.email, prefix: prefix, text: palette.editor.text)]
        case .bucket?: return [data.complete(.bucket, prefix: prefix, text: palette.editor.text)]
        case .none?: palette.candidates = []
        }
        model.overlay = .prompt(.command, palette)
        return []
    }

    func applyFilter(_ text: String, _ model: inout ConsoleModel) -> [ConsoleCommand] {
        let filter = TextFilter(typed: text)
        if let problem = filter?.problem {
            model.message = StatusMessage(text: problem, kind: .error)
            return []
        }
        setFilter(filter, &model)
        return [load(model.pane, &model, page: .first)]
    }
}
