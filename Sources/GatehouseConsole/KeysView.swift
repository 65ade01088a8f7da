import Foundation
import GatehouseCore
import TerminalKit

/// `:keys`: the JWT signing keys and their states, newest in use first. Rotation and
/// retirement stay on the CLI (`gatehouse keys rotate | retire KID`), where retiring asks for
/// the key id typed out.
enum KeysView {
    static func view(_ keys: [SigningKey], now: Date, theme: ConsoleTheme) -> TextView {
        var lines = [StyledLine("KID               STATE      PRIVATE KEY  CREATED               IN JWKS UNTIL", style: theme.tableHeader)]
        for key in keys {
            let until: String = switch key.state {
            case .current: "(current)"
            case .published, .expired: key.publishedUntil.map { TimeText.timestamp($0) } ?? "-"
            case .retired: "removed \(key.retiredAt.map { TimeText.since($0, now: now) } ?? "")"
            }
            let style: Style = switch key.state {
            case .current: theme.ok
            case .published: theme.text
            case .expired: theme.text.with(.dim)
            case .retired: theme.warn
            }
            let storage = key.storage.rawValue.replacingOccurrences(of: "_", with: " ")
            lines.append(StyledLine("\(DisplayWidth.fit(key.kid, to: 17)) \(DisplayWidth.fit(key.state.rawValue, to: 10)) \(DisplayWidth.fit(storage, to: 12)) "
                                    + "\(DisplayWidth.fit(String(TimeText.timestamp(key.createdAt).prefix(19)), to: 21)) \(until)", style: style))
        }
        if keys.isEmpty { lines.append(StyledLine("no signing key yet (serve or init makes the first)", style: theme.info)) }
        lines.append(StyledLine("", style: theme.text))
        lines.append(StyledLine("Rotate: gatehouse keys rotate   Retire (compromise): gatehouse keys retire KID", style: theme.info))
        return TextView(title: "Signing keys", lines: lines)
    }
}
