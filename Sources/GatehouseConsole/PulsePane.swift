import Foundation
import GatehouseCore
import TerminalKit

/// The Pulse pane's state: the last reading, the span it covers, and which series and which
/// column the cursor is on (`enter` lists those events in the Audit pane).
struct PulseState: PaneWindow {
    var reading: AuditPulse?
    /// Minutes charted: 60 (the hour) or 1440 (`:pulse 24h`).
    var span = 60
    var selectedLine = 0
    /// Columns back from the newest (0: the current minute's column).
    var columnsBack = 0
    /// The Pulse pane has no text filter; `PaneWindow` asks.
    var filter: TextFilter?

    var reloadPage: Page { .first }
    var rowCount: Int { reading?.lines.count ?? 0 }
    var loaded: Bool { reading != nil }
    mutating func select(_ index: Int) { selectedLine = max(0, min(index, rowCount - 1)) }
    mutating func resetSelection() { selectedLine = 0; columnsBack = 0 }
    // Nothing on the Pulse pane can be marked.
    var markCount: Int { 0 }
    mutating func toggleMark() -> Bool { false }
    mutating func clearMarks() {}

    var selectedSeries: AuditPulse.Line? {
        guard let lines = reading?.lines, lines.indices.contains(selectedLine) else { return nil }
        return lines[selectedLine]
    }
}

/// The Pulse pane: events per minute as block charts (one series a row or more, scaled to the
/// terminal), the current minute's value beside each, spikes against the span's median in the
/// warning slot, and the top offenders of the last minutes on the right.
enum PulsePane {
    static let labelWidth = 20
    static let valueWidth = 7

    /// A column is a spike when it is over three times the median of the span's columns (and
    /// over three events: one mail failure in a quiet hour is not a spike).
    static func spikes(_ values: [Int]) -> Set<Int> {
        let threshold = 3 * max(AuditPulse.median(values), 1)
        return Set(values.indices.filter { values[$0] > threshold })
    }

    /// The offenders column: beside the charts when the terminal is wide enough to keep them an
    /// hour at a column a minute (120 columns), narrower down to 90, left out below.
    static func offenderWidth(_ width: Int) -> Int { width >= 110 ? 30 : (width >= 90 ? 26 : 0) }

    /// The chart columns a terminal `width` wide has room for.
    static func chartWidth(_ width: Int) -> Int {
        let offenders = offenderWidth(width)
        return max(10, width - labelWidth - valueWidth - 1 - (offenders > 0 ? offenders + 2 : 0))
    }

    /// Minutes a column shows so that `span` fits the chart: the pulse is read in such points.
    static func minutesPerPoint(span: Int, width: Int) -> Int {
        let columns = chartWidth(width)
        return (span + columns - 1) / columns
    }

    static func render(_ state: PulseState, theme: ConsoleTheme, area: Rect, into buffer: inout Buffer) {
        guard let reading = state.reading else { return }
        let offendersWidth = offenderWidth(area.width)
        let chartArea = Rect(x: area.x, y: area.y, width: area.width - (offendersWidth > 0 ? offendersWidth + 2 : 0), height: area.height)
        let width = chartWidth(area.width)
        // A reading made for a wider terminal shows its newest points until the next read.
        let shown = min(reading.points, width)
        let selectedColumn = max(0, reading.points - 1 - state.columnsBack)

        let spanText = reading.minutes >= 1440 ? "last 24 hours" : "last hour"
        let step = reading.minutesPerPoint
        let title = step == 1 ? "EVENTS PER MINUTE · \(spanText)" : "EVENTS PER \(step) MINUTES · \(spanText) · 1 column = \(step) min"
        buffer.put(title, x: chartArea.x, y: chartArea.y, style: theme.tableHeader, maxWidth: chartArea.width)
        // The last column's count: the current minute's, or the last `step` minutes'.
        buffer.put(DisplayWidth.fit(step == 1 ? "NOW" : "LAST \(step)m", to: valueWidth, alignRight: true), x: chartArea.x + labelWidth + width + 1,
                   y: chartArea.y, style: theme.tableHeader)

        // Under the charts: the time axis, the cursor's caret, and what the cursor is on.
        let rowsForCharts = max(1, chartArea.height - 4)
        let lines = reading.lines
        let height = max(1, min(3, rowsForCharts / max(1, lines.count)))
        let visible = max(1, rowsForCharts / height)
        let first = min(max(0, state.selectedLine - visible + 1), max(0, lines.count - visible))
        for (offset, line) in lines.dropFirst(first).prefix(visible).enumerated() {
            let index = first + offset
            let top = chartArea.y + 1 + offset * height
            let values = line.counts
            let spikes = spikes(values)
            let now = line.counts.last ?? 0
            let quiet = values.allSatisfy { $0 == 0 }
            let selected = index == state.selectedLine
            let labelStyle = selected ? theme.selection : (quiet ? theme.muted : theme.text)
            buffer.put(DisplayWidth.fit(line.series.label, to: labelWidth - 1), x: chartArea.x, y: top + height - 1, style: labelStyle)
            var chart = Sparkline(values: values)
            chart.style = theme.accent
            for spike in spikes { chart.columnStyles[spike] = theme.warn }
            if selected { chart.columnStyles[selectedColumn] = theme.selection }
            let chartRect = Rect(x: chartArea.x + labelWidth, y: top, width: width, height: height)
            chart.render(into: &buffer, area: chartRect)
            let nowSpike = spikes.contains(reading.points - 1)
            buffer.put(DisplayWidth.fit(String(now), to: valueWidth, alignRight: true), x: chartRect.maxX + 1, y: top + height - 1,
                       style: nowSpike ? theme.warn : (quiet ? theme.muted : theme.text))
        }

        let below = chartArea.y + 1 + min(visible, lines.count) * height
        let chartX = chartArea.x + labelWidth + width - shown
        renderAxis(reading, shown: shown, theme: theme, x: chartX, y: below, into: &buffer)
        if selectedColumn >= reading.points - shown {
            buffer.put("▲", x: chartX + selectedColumn - (reading.points - shown), y: below + 1, style: theme.accent, maxWidth: 1)
        }
        renderCursor(state, reading: reading, selectedColumn: selectedColumn, theme: theme,
                     area: Rect(x: chartArea.x, y: below + 2, width: chartArea.width, height: 1), into: &buffer)
        if offendersWidth > 0 {
            renderOffenders(reading, theme: theme, area: Rect(x: area.maxX - offendersWidth, y: area.y, width: offendersWidth, height: area.height),
                            into: &buffer)
        }
    }

    /// "-60m", "-30m" and "now" under the chart.
    private static func renderAxis(_ reading: AuditPulse, shown: Int, theme: ConsoleTheme, x: Int, y: Int, into buffer: inout Buffer) {
        let minutes = shown * reading.minutesPerPoint
        func ago(_ minutes: Int) -> String { minutes >= 120 ? "-\(minutes / 60)h" : "-\(minutes)m" }
        buffer.put(ago(minutes), x: x, y: y, style: theme.muted)
        buffer.put(ago(minutes / 2), x: x + shown / 2 - 2, y: y, style: theme.muted)
        buffer.put("now", x: x + shown - 3, y: y, style: theme.muted)
    }

    /// What the cursor is on: the minutes, the series, its count against the median.
    private static func renderCursor(_ state: PulseState, reading: AuditPulse, selectedColumn: Int,
                                     theme: ConsoleTheme, area: Rect, into buffer: inout Buffer) {
        guard let line = state.selectedSeries, line.counts.indices.contains(selectedColumn) else { return }
        let (from, to) = reading.interval(ofPoint: selectedColumn)
        var text = "\(clock(from))–\(clock(to))  \(line.series.label): \(line.counts[selectedColumn]) (median \(AuditPulse.median(line.counts)))"
        if line.unrecorded > 0 { text += "  · \(line.unrecorded) in the span left out of the log by the audit throttle" }
        text += "  · enter lists them in Audit"
        buffer.put(text, x: area.x, y: area.y, style: theme.info, maxWidth: area.width)
    }

    private static func renderOffenders(_ reading: AuditPulse, theme: ConsoleTheme, area: Rect, into buffer: inout Buffer) {
        buffer.put("TOP OFFENDERS · \(reading.offenderMinutes) MIN", x: area.x, y: area.y, style: theme.tableHeader, maxWidth: area.width)
        var y = area.y + 1
        let perKind = max(1, (area.height - 1) / AuditPulse.OffenderKind.allCases.count - 1)
        for kind in AuditPulse.OffenderKind.allCases {
            guard y < area.maxY else { break }
            buffer.put(kind.rawValue + (kind == .address ? "es" : "s"), x: area.x, y: y, style: theme.muted, maxWidth: area.width)
            y += 1
            let top = reading.offenders.filter { $0.kind == kind }.prefix(perKind)
            if top.isEmpty, y < area.maxY {
                buffer.put("  none", x: area.x, y: y, style: theme.muted)
                y += 1
            }
            for offender in top where y < area.maxY {
                let count = String(offender.count)
                let keyWidth = area.width - 3 - DisplayWidth.of(count)
                buffer.put("  " + DisplayWidth.fit(offender.key, to: keyWidth) + " " + count, x: area.x, y: y, style: theme.text, maxWidth: area.width)
                y += 1
            }
        }
    }

    /// "14:05" in UTC, as the audit log's timestamps are.
    static func clock(_ date: Date) -> String {
        String(TimeText.timestamp(date).dropFirst(11).prefix(5))
    }

    /// The Audit pane's scope for the cursor's series and column.
    static func scope(_ state: PulseState) -> AuditScope? {
        guard let reading = state.reading, let line = state.selectedSeries else { return nil }
        let (from, to) = reading.interval(ofPoint: max(0, reading.points - 1 - state.columnsBack))
        let label = "\(line.series.label) \(clock(from))" + (reading.minutesPerPoint > 1 ? "–\(clock(to))" : "")
        return AuditScope(actions: line.series.actions, reasons: line.series.reasons, from: from, minutes: reading.minutesPerPoint, label: label)
    }
}
