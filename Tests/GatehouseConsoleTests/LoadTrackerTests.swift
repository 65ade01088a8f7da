import Foundation
import GatehouseCore
import Testing
import TerminalKit
@testable import GatehouseConsole

@Suite("Pane reads")
struct LoadTrackerTests {
    @Test("an answer that is not the latest is dropped")
    func outOfOrder() {
        var tracker = LoadTracker()
        let first = tracker.begin(.sessions)
        let second = tracker.begin(.sessions)
        let latest = tracker.finish(.sessions, generation: second)
        let stale = tracker.finish(.sessions, generation: first)
        #expect(latest && !stale)
        #expect(!tracker.isRunning(.sessions))
    }

    @Test("changes noticed during a slow read mark the pane stale instead of piling up reads")
    func coalescing() throws {
        let fixture = try ConsoleFixture()
        let update = ConsoleUpdate(data: ConsoleDataSource(gatehouse: fixture.gatehouse, changes: try ChangeDetector(database: fixture.gatehouse.database),
                                                           actor: .system))
        var model = ConsoleModel(readOnly: false, size: Size(width: 120, height: 30), databasePath: "x", operatorName: "o",
                                 theme: BuiltinThemes.defaultTheme, colorDepth: .indexed256, themes: ThemeCatalog(configDirectory: nil))
        let first = update.update(&model, .databaseChanged(true), now: Date())
        // Every pane but the Pulse, which is read only while it is on screen (marked stale instead).
        #expect(first.count == PaneID.allCases.count - 1)
        #expect(model.loads.stale == [.pulse])
        // Still running: nothing new starts, however often the database changes.
        let second = update.update(&model, .databaseChanged(true), now: Date())
        let third = update.update(&model, .databaseChanged(true), now: Date())
        #expect(second.isEmpty && third.isEmpty)
        #expect(model.loads.stale == Set(PaneID.allCases))
        // The read lands: exactly one more read of that pane follows.
        let followUp = update.update(&model, .loaded(.sessions([]), anchor: .first, select: nil, generation: 1), now: Date())
        #expect(followUp.count == 1)
        #expect(model.loads.stale == Set(PaneID.allCases).subtracting([.sessions]))
        // Coming on screen, the Pulse reads what it missed.
        let pulse = update.update(&model, .event(.key(.character("6"))), now: Date())
        #expect(pulse.count == 1 && !model.loads.stale.contains(.pulse))
    }
}
