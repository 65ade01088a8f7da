import Foundation
import Testing
@testable import TerminalKit

/// Field report I, items 1 and 2: widths in terminal cells, and text from outside neutralised.
@Suite("Text that meets a terminal")
struct TerminalTextTests {
    /// The inputs of the field report, and more of the same kinds.
    static let hostile: [String] = [
        "\u{9D}2;owned\u{9C}",                                        // C1 OSC … ST: retitles some terminals
        "\u{202E}evil",                                                // right-to-left override
        "\u{1B}]2;owned\u{07}\u{1B}]52;c;cHduZWQ=\u{07}",              // OSC title + OSC 52 clipboard write, BEL
        "\u{1B}[2J\u{1B}[H",                                           // clear screen, cursor home
        "\u{9B}31m",                                                   // C1 CSI
        "a\u{7F}b\u{0}c\u{08}d\r\n",                                   // DEL, NUL, backspace, CR LF
        "\u{2066}x\u{2069}\u{2067}y\u{2068}z\u{202A}\u{202B}\u{202C}\u{202D}\u{200E}\u{200F}\u{061C}", // isolates, embeddings, marks
        "admin\u{200B}@example.com\u{FEFF}\u{2028}\u{2029}\u{00AD}",   // invisible look-alikes, separators
        "ok\u{E0041}\u{E0042}\u{E007F}",                            // tag characters: invisible text after a letter
        "\u{3164}\u{115F}\u{FFA0}\u{034F}\u{FFF9}x\u{FFFB}",          // Hangul fillers, CGJ, interlinear annotation
    ]

    /// No scalar a terminal could act on survives, and nothing was silently dropped.
    static func isInert(_ text: String, multiline: Bool = false) -> Bool {
        text.unicodeScalars.allSatisfy { scalar in
            (multiline && (scalar == "\n" || scalar == "\t")) || !TerminalText.isUnsafe(scalar)
        }
    }

    @Test("controls, bidi and invisible characters become visible escapes, never emitted", arguments: hostile)
    func neutralises(_ input: String) {
        let shown = TerminalText.neutralised(input)
        #expect(Self.isInert(shown), "\(shown.unicodeScalars.map { String($0.value, radix: 16) })")
        #expect(shown.contains("\\"), "every neutralised character leaves a visible trace")
    }

    @Test("the field report's inputs, exactly as an operator reads them")
    func exactEscapes() {
        #expect(TerminalText.neutralised("\u{9D}2;owned\u{9C}") == "\\x9D2;owned\\x9C")
        #expect(TerminalText.neutralised("\u{202E}evil") == "\\u{202E}evil")
        #expect(TerminalText.neutralised("\u{1B}]2;owned\u{07}") == "\\x1B]2;owned\\x07")
        #expect(TerminalText.neutralised("a\tb\nc") == "a\\tb\\nc")
        #expect(TerminalText.neutralised("a\tb\nc", multiline: true) == "a\tb\nc")
        #expect(TerminalText.neutralised("plain ascii, 王芳, 😀, e\u{301}") == "plain ascii, 王芳, 😀, e\u{301}")
        // Joiners and variation selectors build emoji: they stay.
        #expect(TerminalText.neutralised("👨‍👩‍👧 ❤️ 🏴󠁧󠁢󠁥󠁮󠁧󠁿") == "👨‍👩‍👧 ❤️ 🏴󠁧󠁢󠁥󠁮󠁧󠁿")
    }

    @Test("--json escapes DEL, C1, bidi and invisibles as \\u and decodes to the same value")
    func json() throws {
        for input in Self.hostile {
            let encoded = try JSONEncoder().encode(["user_agent": input])
            let escaped = TerminalText.escapingJSON(String(decoding: encoded, as: UTF8.self))
            #expect(escaped.unicodeScalars.allSatisfy { $0.value >= 0x20 && !TerminalText.isUnsafe($0) }, "\(escaped)")
            let decoded = try JSONDecoder().decode([String: String].self, from: Data(escaped.utf8))
            #expect(decoded["user_agent"].map { Array($0.unicodeScalars) } == Array(input.unicodeScalars))
        }
        // Pretty-printed JSON keeps its own newlines.
        let pretty = "{\n  \"a\" : \"\u{202E}\"\n}"
        #expect(TerminalText.escapingJSON(pretty) == "{\n  \"a\" : \"\\u202e\"\n}")
    }

    @Test("display width by grapheme cluster: wide East Asian, emoji and their sequences, combining marks")
    func widths() {
        #expect(DisplayWidth.of("王芳@例子.test") == 14)
        #expect(DisplayWidth.of("😀😀party@example.test") == 22)
        #expect(DisplayWidth.of("👨‍👩‍👧") == 2)                // ZWJ sequence: one cluster, two cells
        #expect(DisplayWidth.of("👍🏽") == 2)                  // emoji modifier
        #expect(DisplayWidth.of("❤️") == 2)                   // text default + U+FE0F: emoji presentation
        #expect(DisplayWidth.of("🇫🇷") == 2)                   // flag: regional-indicator pair
        #expect(DisplayWidth.of("1️⃣") == 2)                   // keycap
        #expect(DisplayWidth.of("e\u{301}lodie") == 6)        // combining acute
        #expect(DisplayWidth.of("ｅｘａｍｐｌｅ") == 14)          // full-width Latin
        #expect(DisplayWidth.of("한국어") == 6)
        #expect(DisplayWidth.of("\u{1B}") == 4)               // drawn as \x1B
        #expect(DisplayWidth.of("\u{202E}") == 8)             // drawn as \u{202E}
    }

    @Test("truncation never splits a cluster or an escape")
    func truncation() {
        #expect(DisplayWidth.truncate("😀😀party", to: 4) == "😀…")
        #expect(DisplayWidth.truncate("👨‍👩‍👧👨‍👩‍👧", to: 3) == "👨‍👩‍👧…")
        #expect(DisplayWidth.truncate("a\u{202E}bc", to: 5) == "a…")
    }

    @Test("the buffer draws escapes in place of controls, and columns after them stay aligned")
    func buffer() {
        var buffer = Buffer(size: Size(width: 40, height: 3))
        buffer.put("\u{1B}]2;owned\u{07}|", x: 0, y: 0)
        #expect(buffer.line(0).hasPrefix("\\x1B]2;owned\\x07|"))
        #expect(buffer.cells.allSatisfy { $0.text.unicodeScalars.allSatisfy { !TerminalText.isUnsafe($0) } })

        let table = Table(columns: [TableColumn("USER", max: 30), TableColumn("KIND")],
                          rows: [["王芳@例子.test", "api"], ["😀😀party@example.test", "web"], ["bob@example.test", "api"],
                                 ["\u{202E}evil", "api"]])
        var screen = Buffer(size: Size(width: 40, height: 5))
        table.render(into: &screen, area: screen.area)
        let kindColumns = (1...4).map { row in Self.column(of: row == 2 ? "web" : "api", in: screen, row: row) }
        #expect(Set(kindColumns).count == 1, "KIND starts at one column in every row: \(kindColumns)\n\(screen.text)")
        #expect(screen.text.contains("😀😀party@example.test"))
        #expect(screen.text.contains("\\u{202E}evil"))
    }

    /// The display column at which `text` starts on row `row`.
    static func column(of text: String, in buffer: Buffer, row: Int) -> Int? {
        var column = 0
        let line = buffer.line(row)
        guard let range = line.range(of: text) else { return nil }
        for character in line[..<range.lowerBound] { column += DisplayWidth.of(character) }
        return column
    }
}
