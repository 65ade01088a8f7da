import Foundation
import TerminalKit

// Everything the CLI writes for people goes through here, so that text from outside (user agents,
// emails, audit details, another writer of the file) is neutralised exactly as the console does
// it (`TerminalText`) and columns are measured in terminal cells (`DisplayWidth`), not characters.

/// Writes a line that is already safe (neutralised text or escaped JSON) on standard output.
/// Unbuffered, and the one way the CLI writes there: a script or a test waiting for a line
/// (serve's address, `audit tail --follow`) gets it at once, and lines never change order.
private func writeLine(_ safe: String) {
    FileHandle.standardOutput.write(Data((safe + "\n").utf8))
}

/// Prints human-readable text on standard output, every control or bidi character shown as a
/// visible escape; newlines and tabs pass unless `oneLine` (a line built from outside values).
func say(_ text: String, oneLine: Bool = false) {
    writeLine(TerminalText.neutralised(text, multiline: !oneLine))
}

/// Prints `gatehouse: message` on standard error, neutralised like `say`.
func sayError(_ message: String) {
    FileHandle.standardError.write(Data("gatehouse: \(TerminalText.neutralised(message, multiline: true))\n".utf8))
}

/// `label value` lines with the labels padded to one width, as `sessions show` and `jobs show` print them.
func sayFields(_ fields: [(label: String, value: String)]) {
    let width = (fields.map { DisplayWidth.of($0.label) }.max() ?? 0) + 2
    for (label, value) in fields { say(DisplayWidth.fit(label, to: width) + value, oneLine: true) }
}

/// Plain aligned columns for terminals, padded by display width; `--json` is the format for scripts.
/// No cell is ever cut here: a value an operator may type back (an email, a bucket key, a handle)
/// is printed whole, and the row widens. Free text that may be long is clipped by the command
/// with `clip`, and `--wide` shows it whole.
struct TextTable {
    var headers: [String]
    var rows: [[String]] = []

    init(_ headers: String...) { self.headers = headers }

    /// Adds a row; each cell is neutralised (a newline or an escape sequence cannot break the row).
    mutating func add(_ cells: String...) { rows.append(cells.map { TerminalText.neutralised($0) }) }

    func render() -> String {
        let widths = headers.indices.map { column in
            ([headers[column]] + rows.map { column < $0.count ? $0[column] : "" }).map(DisplayWidth.of).max() ?? 0
        }
        func line(_ cells: [String]) -> String {
            cells.enumerated().map { index, cell in
                index == cells.count - 1 ? cell : cell + String(repeating: " ", count: max(0, widths[index] - DisplayWidth.of(cell)))
            }.joined(separator: "  ")
        }
        return ([line(headers)] + rows.map(line)).joined(separator: "\n")
    }

    /// The cells were neutralised by `add`; the headers and the empty message are ours.
    func print(emptyMessage: String) {
        writeLine(rows.isEmpty ? emptyMessage : render())
    }

    /// Free text (a user agent, a job note) cut to `columns` cells with `…`, unless `wide`.
    static func clip(_ text: String, to columns: Int, wide: Bool) -> String {
        wide ? text : DisplayWidth.truncate(text, to: columns)
    }
}

/// The JSON encoder every `--json` output uses: ISO 8601 dates, sorted keys; control, bidi and
/// invisible characters escaped as `\uXXXX` (`TerminalText.escapingJSON`).
func printJSON<T: Encodable>(_ value: T) throws {
    writeLine(try jsonText(value, pretty: true))
}

/// One JSON document on one line (JSON Lines), as `audit tail --follow --json` streams them.
func printJSONLine<T: Encodable>(_ value: T) throws {
    writeLine(try jsonText(value, pretty: false))
}

/// One JSON document as text, pretty or on one line.
private func jsonText<T: Encodable>(_ value: T, pretty: Bool) throws -> String {
    let encoder = JSONEncoder()
    encoder.outputFormatting = pretty ? [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes] : [.sortedKeys, .withoutEscapingSlashes]
    encoder.dateEncodingStrategy = .iso8601
    return TerminalText.escapingJSON(String(decoding: try encoder.encode(value), as: UTF8.self))
}
