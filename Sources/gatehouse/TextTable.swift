import Foundation

/// Plain aligned columns for terminals; `--json` is the format for scripts.
struct TextTable {
    var headers: [String]
    var rows: [[String]] = []

    init(_ headers: String...) { self.headers = headers }

    mutating func add(_ cells: String...) { rows.append(cells) }

    func render() -> String {
        let widths = headers.indices.map { column in
            ([headers[column]] + rows.map { column < $0.count ? $0[column] : "" }).map(\.count).max() ?? 0
        }
        func line(_ cells: [String]) -> String {
            cells.enumerated().map { index, cell in
                index == cells.count - 1 ? cell : cell.padding(toLength: widths[index], withPad: " ", startingAt: 0)
            }.joined(separator: "  ")
        }
        return ([line(headers)] + rows.map(line)).joined(separator: "\n")
    }

    func print(emptyMessage: String) {
        Swift.print(rows.isEmpty ? emptyMessage : render())
    }
}

/// Times as people on call read them: "3m ago", "in 6d 2h".
enum RelativeTime {
    static func describe(_ date: Date?, now: Date = Date()) -> String {
        guard let date else { return "-" }
        let seconds = date.timeIntervalSince(now)
        let text = span(abs(seconds))
        return seconds < 0 ? "\(text) ago" : "in \(text)"
    }

    static func span(_ seconds: TimeInterval) -> String {
        let s = Int(seconds.rounded())
        switch s {
        case ..<60: return "\(s)s"
        case ..<3600: return "\(s / 60)m"
        case ..<86400: return "\(s / 3600)h\(s % 3600 / 60 == 0 ? "" : " \(s % 3600 / 60)m")"
        default: return "\(s / 86400)d\(s % 86400 / 3600 == 0 ? "" : " \(s % 86400 / 3600)h")"
        }
    }
}

/// The JSON encoder every `--json` output uses: ISO 8601 dates, sorted keys.
func printJSON<T: Encodable>(_ value: T) throws {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
    encoder.dateEncodingStrategy = .iso8601
    print(String(decoding: try encoder.encode(value), as: UTF8.self))
}
