import Foundation
import GatehouseCore
import TerminalKit

/// The "Why?" view behind `w` (a session) and `W` (its user): the verdict in one line at the
/// top, then the timeline with the evidence rows highlighted. Same text as `gatehouse explain`.
enum WhyView {
    static func view(_ explanation: Explanation, theme: ConsoleTheme) -> TextView {
        let lines = ExplanationText.lines(explanation).map { line -> StyledLine in
            let style: Style = switch line.role {
            case .verdict: explanation.verdict.cause == .notLoggedOut ? theme.ok.with(.bold) : theme.error
            case .hint: theme.info
            case .heading: theme.tableHeader
            case .evidence: theme.warn
            case .entry: theme.text
            case .blank: theme.text
            }
            return StyledLine(line.text, style: style)
        }
        return TextView(title: "Why? \(explanation.subject)", lines: lines)
    }
}
