import Testing
@testable import TerminalKit

@Suite("Buffer")
struct BufferTests {
    @Test("display widths: ASCII 1, CJK and emoji 2, combining marks 0")
    func widths() {
        #expect(DisplayWidth.of("abc") == 3)
        #expect(DisplayWidth.of("日本") == 4)
        #expect(DisplayWidth.of("🔑") == 2)
        #expect(DisplayWidth.of("e\u{301}") == 1)
        #expect(DisplayWidth.truncate("日本語テキスト", to: 7) == "日本語…")
        #expect(DisplayWidth.fit("ab", to: 4, alignRight: true) == "  ab")
    }

    @Test("wide characters take two cells and are never split at an edge")
    func wideCharacters() {
        var buffer = Buffer(size: Size(width: 6, height: 2))
        let written = buffer.put("a日本", x: 0, y: 0)
        #expect(written == 5)
        #expect(buffer.line(0) == "a日本 ")
        #expect(buffer[2, 0].isContinuation)
        // Only 5 columns left from x=1 with a limit of 4: the second wide char would straddle.
        buffer.put("日本語", x: 1, y: 1, maxWidth: 3)
        #expect(buffer.line(1) == " 日   ")
    }

    @Test("overwriting half of a wide character blanks the other half")
    func repairsWideCharacters() {
        var buffer = Buffer(size: Size(width: 4, height: 1))
        buffer.put("日本", x: 0, y: 0)
        buffer.put("x", x: 1, y: 0)
        #expect(buffer.line(0) == " x本")
        buffer.put("y", x: 2, y: 0)
        #expect(buffer.line(0) == " xy ")
    }

    @Test("a box with a title")
    func box() {
        var buffer = Buffer(size: Size(width: 12, height: 3))
        buffer.box(buffer.area, title: "Hi")
        #expect(buffer.text == "┌─ Hi ─────┐\n│          │\n└──────────┘")
    }

    @Test("only changed cells reach the terminal")
    func diffing() {
        let backend = MemoryBackend(width: 20, height: 5)
        let terminal = Terminal(backend: backend)
        terminal.draw { $0.put("hello world", x: 0, y: 0) }
        #expect(backend.cellsDrawn == 100)
        backend.resetCounters()
        terminal.draw { $0.put("hello there", x: 0, y: 0) }
        #expect(backend.cellsDrawn == 5)
        #expect(backend.screen.line(0).hasPrefix("hello there"))
        backend.resetCounters()
        terminal.draw { $0.put("hello there", x: 0, y: 0) }
        #expect(backend.cellsDrawn == 0)
    }

    @Test("a changed wide character is redrawn whole")
    func diffWide() {
        var old = Buffer(size: Size(width: 4, height: 1))
        old.put("日本", x: 0, y: 0)
        var new = old
        new.put("日x", x: 0, y: 0)
        let runs = new.changes(since: old)
        #expect(runs.count == 1 && runs[0].x == 2 && runs[0].cells.count == 2)
    }

    @Test("256 colours approximate to the 16 ANSI ones")
    func colorApproximation() {
        #expect(ColorApproximation.ansi(forIndexed: 9) == 9)
        #expect(ColorApproximation.ansi(forIndexed: 196) == 9)   // bright red
        #expect(ColorApproximation.ansi(forIndexed: 28) == 2)    // dark green
        #expect(ColorApproximation.ansi(forIndexed: 236) == 0)   // a background grey: black
        #expect(ColorApproximation.ansi(forIndexed: 244) == 8)   // a mid grey: bright black
        #expect(ColorApproximation.ansi(forIndexed: 252) == 7)
    }
}
