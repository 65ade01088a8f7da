import Foundation
import GatehouseCore
import TerminalKit

/// Sessions: who is logged in, how, and for how long still.
enum SessionsPane {
    static let columns = [
        TableColumn("HANDLE", min: 16, max: 16),
        TableColumn("USER", min: 10, max: 32, flex: 2),
        TableColumn("KIND", min: 4, max: 4),
        TableColumn("STATE", min: 7, max: 10),
        TableColumn("AGE", min: 3, max: 5),
        TableColumn("SEEN", min: 4, max: 5),
        TableColumn("IDLE IN", min: 7, max: 8),
        TableColumn("ENDS IN", min: 7, max: 8),
        TableColumn("IP", min: 15, max: 39, flex: 1),
        TableColumn("TOKENS", min: 6, max: 6, alignRight: true),
        TableColumn("USER AGENT", min: 10, max: 60, flex: 1),
    ]

    static func cells(_ row: SessionSummary, now: Date) -> [String] {
        let s = row.session
        let state = s.effectiveState(at: now)
        let live = state == .active
        return [s.handle, row.email, s.kind.rawValue, state.rawValue.replacingOccurrences(of: "_", with: " "),
                TimeText.age(s.createdAt, now: now), TimeText.age(s.lastSeenAt, now: now),
                live ? TimeText.until(s.idleExpiresAt, now: now) : "—", live ? TimeText.until(s.absoluteExpiresAt, now: now) : "—",
                s.ip ?? "-", s.kind == .api ? String(row.familySize) : "-", s.userAgent ?? "-"]
    }

    static func isEnded(_ row: SessionSummary, now: Date) -> Bool { row.session.effectiveState(at: now) != .active }
}

/// Refresh tokens grouped by family; fingerprints only, never a secret.
enum TokensPane {
    static let columns = [
        TableColumn("FINGERPRINT", min: 12, max: 12),
        TableColumn("FAMILY", min: 16, max: 16),
        TableColumn("SESSION", min: 16, max: 16),
        TableColumn("USER", min: 10, max: 32, flex: 2),
        TableColumn("STATE", min: 7, max: 24, flex: 1),
        TableColumn("AGE", min: 3, max: 5),
        TableColumn("EXPIRES IN", min: 10, max: 10),
        TableColumn("PARENT", min: 12, max: 12),
    ]

    static func cells(_ row: RefreshTokenSummary, now: Date) -> [String] {
        let t = row.token
        let state = t.state.rawValue + (t.revokedReason.map { " (\($0))" } ?? "")
        return [t.fingerprint, t.family, row.sessionHandle, row.email, state, TimeText.age(t.issuedAt, now: now),
                t.state == .active ? TimeText.until(t.expiresAt, now: now) : "—", row.parentFingerprint ?? "—"]
    }

    static func isEnded(_ row: RefreshTokenSummary) -> Bool { row.token.state != .active }
}

/// The detail view behind `enter`: a session, its token lineage and its audit trail.
enum SessionDetail {
    static func view(_ summary: SessionSummary, tokens: [RefreshTokenSummary], events: [AuditEvent], now: Date, theme: ConsoleTheme) -> TextView {
        let s = summary.session
        let bold = Style(attributes: [.bold])
        var lines: [StyledLine] = []
        func field(_ label: String, _ value: String) { lines.append(StyledLine(DisplayWidth.fit(label, to: 18) + value)) }
        field("user", summary.email)
        field("kind", s.kind.rawValue)
        field("state", s.effectiveState(at: now).rawValue + (s.endReason.map { " — \($0)" } ?? ""))
        if let endedBy = s.endedBy { field("ended by", endedBy + (s.endedAt.map { " at \(TimeText.timestamp($0))" } ?? "")) }
        field("created", "\(TimeText.timestamp(s.createdAt)) (\(TimeText.since(s.createdAt, now: now)))")
        field("last seen", "\(TimeText.timestamp(s.lastSeenAt)) (\(TimeText.since(s.lastSeenAt, now: now)))")
        field("idle expiry", "\(TimeText.timestamp(s.idleExpiresAt)) (in \(TimeText.until(s.idleExpiresAt, now: now)))")
        field("absolute expiry", "\(TimeText.timestamp(s.absoluteExpiresAt)) (in \(TimeText.until(s.absoluteExpiresAt, now: now)))")
        field("ip", s.ip ?? "-")
        field("user agent", s.userAgent ?? "-")
        field("refresh family", s.refreshFamily ?? "- (web session)")

        lines.append(StyledLine(""))
        lines.append(StyledLine("TOKEN LINEAGE (oldest first)", style: bold))
        if tokens.isEmpty { lines.append(StyledLine("  none")) }
        for (depth, token) in tokens.reversed().enumerated() {
            let t = token.token
            let state = t.state.rawValue + (t.revokedReason.map { " (\($0))" } ?? "")
            lines.append(StyledLine("  \(depth == 0 ? "●" : "└→") \(t.fingerprint)  \(DisplayWidth.fit(state, to: 28))  issued \(TimeText.timestamp(t.issuedAt))"))
        }

        lines.append(StyledLine(""))
        lines.append(StyledLine("AUDIT TRAIL", style: bold))
        if events.isEmpty { lines.append(StyledLine("  none")) }
        for event in events {
            let actor = event.actorType + (event.actorId.map { ":\($0)" } ?? "")
            var text = "  \(event.seq)  \(TimeText.timestamp(event.at))  \(DisplayWidth.fit(event.action, to: 24)) \(DisplayWidth.fit(actor, to: 18)) \(event.outcome)"
            if let reason = event.reason { text += "  reason=\(reason)" }
            if let ip = event.ip { text += "  ip=\(ip)" }
            lines.append(StyledLine(text, style: event.outcome == "success" ? theme.text : theme.warn))
        }
        return TextView(title: "Session \(s.handle)", lines: lines)
    }
}
