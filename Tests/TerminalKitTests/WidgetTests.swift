import Testing
@testable import TerminalKit

@Suite("Widgets")
struct WidgetTests {
    private func render(width: Int, height: Int, _ paint: (inout Buffer) -> Void) -> Buffer {
        var buffer = Buffer(size: Size(width: width, height: height))
        paint(&buffer)
        return buffer
    }

    private let columns = [
        TableColumn("HANDLE", min: 6, max: 16),
        TableColumn("USER", min: 6, max: 30, flex: 1),
        TableColumn("STATE", min: 5, max: 10),
        TableColumn("IP", min: 7, max: 15),
    ]
    private let rows = [
        ["ses_aaa", "alice@example.com", "active", "10.0.0.1"],
        ["ses_bbb", "李@例え.jp", "revoked", "10.0.0.2"],
    ]

    @Test("a table on a wide screen: content widths, spare width to the flexible column")
    func tableWide() {
        var table = Table(columns: columns, rows: rows)
        table.selected = 1
        table.sortColumn = 0
        let buffer = render(width: 60, height: 3) { table.render(into: &$0, area: $0.area) }
        #expect(buffer.text == """
            HANDLE ↓  USER                             STATE    IP
            ses_aaa   alice@example.com                active   10.0.0.1
            ses_bbb   李@例え.jp                       revoked  10.0.0.2
            """)
        #expect(buffer[0, 2].style.attributes.contains(.reverse))
        #expect(!buffer[0, 1].style.attributes.contains(.reverse))
    }

    @Test("a narrow table shrinks the flexible column, then drops columns from the right")
    func tableNarrow() {
        let table = Table(columns: columns, rows: rows)
        let narrow = render(width: 34, height: 3) { table.render(into: &$0, area: $0.area) }
        #expect(narrow.text == """
            HANDLE   USER    STATE    IP
            ses_aaa  alice…  active   10.0.0.1
            ses_bbb  李@例…  revoked  10.0.0.2
            """)
        let tiny = render(width: 20, height: 3) { table.render(into: &$0, area: $0.area) }
        #expect(tiny.line(0).hasPrefix("HANDLE   USER"))
        #expect(!tiny.text.contains("STATE"))
    }

    @Test("tab bar and key hints")
    func bars() {
        let buffer = render(width: 40, height: 2) {
            TabBar(titles: ["Sessions", "Tokens"], selected: 1).render(into: &$0, area: Rect(x: 0, y: 0, width: 40, height: 1))
            KeyHintBar(hints: [("d", "revoke"), ("?", "help"), ("q", "quit"), ("x", "this one does not fit at all")])
                .render(into: &$0, area: Rect(x: 0, y: 1, width: 40, height: 1))
        }
        #expect(buffer.text == " 1 Sessions   2 Tokens\nd revoke  ? help  q quit")
        #expect(buffer[13, 0].style.attributes.contains(.reverse))
    }

    @Test("a plain confirmation: y or enter confirms, n or esc cancels, other keys wait")
    func plainConfirm() {
        var dialog = ConfirmDialog(title: "Revoke", lines: ["Revoke session ses_aaa of alice@example.com?"])
        do { let result = dialog.handle(.character("x")); #expect(result == .pending) }
        do { let result = dialog.handle(.character("y")); #expect(result == .confirmed) }
        do { let result = dialog.handle(.enter); #expect(result == .confirmed) }
        do { let result = dialog.handle(.character("n")); #expect(result == .cancelled) }
        do { let result = dialog.handle(.escape); #expect(result == .cancelled) }
        let buffer = render(width: 60, height: 7) { dialog.render(into: &$0, area: $0.area) }
        #expect(buffer.text.contains("Revoke session ses_aaa of alice@example.com?"))
        #expect(buffer.text.contains("y/enter confirm · n/esc cancel"))
    }

    @Test("a typed confirmation needs the exact text")
    func typedConfirm() {
        var dialog = ConfirmDialog(title: "Revoke all", lines: ["Every session of bob@example.com"], expected: "bob@example.com")
        do { let result = dialog.handle(.character("y")); #expect(result == .pending) }
        do { let result = dialog.handle(.enter); #expect(result == .pending) }
        #expect(dialog.mismatch)
        for _ in 0..<1 { _ = dialog.handle(.backspace) }
        for c in "bob@example.com" { _ = dialog.handle(.character(c)) }
        do { let result = dialog.handle(.enter); #expect(result == .confirmed) }
        let buffer = render(width: 60, height: 9) { dialog.render(into: &$0, area: $0.area) }
        #expect(buffer.text.contains("> bob@example.com"))
    }

    @Test("line editing: insert, move, delete, kill word")
    func lineEditor() {
        var editor = LineEditor("tokens")
        _ = editor.handle(.character(" "))
        for c in "al" { _ = editor.handle(.character(c)) }
        #expect(editor.text == "tokens al")
        _ = editor.handle(.control("w"))
        #expect(editor.text == "tokens ")
        _ = editor.handle(.home)
        _ = editor.handle(.delete)
        #expect(editor.text == "okens " && editor.cursor == 0)
        do { let handled = editor.handle(.enter); #expect(!handled) }
    }

    @Test("the help built from a key map lists every binding by section")
    func help() {
        let map = KeyMap<String>([
            KeyBinding([.character("d")], "revoke", "revoke the selection", hint: "revoke", section: "Actions"),
            KeyBinding([.up, .character("k")], "up", "move up", section: "Navigation"),
        ])
        #expect(map.action(for: .character("k")) == "up")
        #expect(map.hints.map(\.key) == ["d"])
        #expect(map.helpLines.map(\.text) == ["Actions", "d                 revoke the selection", "", "Navigation", "↑ k               move up"])
    }

    @Test("a text view scrolls and shows its position")
    func textView() {
        var view = TextView(title: "Detail", lines: (1...20).map { StyledLine("line \($0)") })
        do { let result = view.handle(.pageDown, pageHeight: 5); #expect(result) }
        #expect(view.offset == 5)
        do { let result = view.handle(.end, pageHeight: 5); #expect(result && view.offset == 15) }
        do { let result = view.handle(.character("x"), pageHeight: 5); #expect(!result) }
        let buffer = render(width: 20, height: 7) { view.render(into: &$0, area: $0.area) }
        #expect(buffer.line(1).contains("line 16"))
        #expect(buffer.line(6).contains("20/20"))
    }
}
