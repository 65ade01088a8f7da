import Foundation
import GatehouseCore
import TerminalKit

/// The Pulse pane's part of the update: when it reads, its span, its cursor, and opening the
/// cursor's events in the Audit pane.
extension ConsoleUpdate {
    /// The Pulse pane, come on screen after changes it did not read, reads them now (unless paused).
    func pulseIfShown(_ model: inout ConsoleModel) -> [ConsoleCommand] {
        guard model.pane == .pulse, !model.paused, model.loads.stale.contains(.pulse), !model.loads.isRunning(.pulse) else { return [] }
        model.loads.stale.remove(.pulse)
        return [reload(.pulse, &model)]
    }

    /// A new minute starts a new column even when nothing was written: the Pulse pane on screen
    /// is read again when its newest minute is no longer the current one.
    func pulseMinuteTurned(_ model: inout ConsoleModel, now: Date) -> [ConsoleCommand] {
        guard model.pane == .pulse, !model.paused, let reading = model.pulse.reading, !model.loads.isRunning(.pulse),
              AuditPulse.minute(of: now) != reading.lastMinute else { return [] }
        return [reload(.pulse, &model)]
    }

    func setPulseSpan(_ minutes: Int, _ model: inout ConsoleModel) -> [ConsoleCommand] {
        model.pulse.span = minutes
        model.pulse.columnsBack = 0
        return [load(.pulse, &model, page: .first)]
    }

    /// `:pulse [1h|24h]`.
    func pulseCommand(_ arguments: [String], _ model: inout ConsoleModel) -> [ConsoleCommand] {
        model.pane = .pulse
        guard let span = arguments.first else { return pulseIfShown(&model) }
        switch span.lowercased() {
        case "1h", "60m", "hour": return setPulseSpan(60, &model)
        case "24h", "1d", "day": return setPulseSpan(1440, &model)
        default:
            model.message = StatusMessage(text: ":pulse takes 1h (the last hour) or 24h (the last day), not \(span)", kind: .error)
            return []
        }
    }

    /// `h` / `l`: the cursor one column earlier or later, within the reading's points.
    func movePulseCursor(_ action: ConsoleAction, _ model: inout ConsoleModel) {
        let points = model.pulse.reading?.points ?? 1
        model.pulse.columnsBack = max(0, min(points - 1, model.pulse.columnsBack + (action == .earlier ? 1 : -1)))
    }

    /// `enter`: the cursor's series and minutes, listed in the Audit pane (`esc` there returns to the whole log).
    func openPulseInAudit(_ model: inout ConsoleModel) -> [ConsoleCommand] {
        guard let scope = PulsePane.scope(model.pulse) else { return [] }
        model.auditScope = scope
        model.audit.clearMarks()
        model.pane = .audit
        model.audit.resetSelection()
        return [load(.audit, &model, page: .first)]
    }
}
