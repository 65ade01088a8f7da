import Foundation
import GatehouseConsole
import GatehouseCore
import TerminalKit

/// The console over a large database on the in-memory backend (120×40): how long each pane
/// takes to open and a frame to render, and the process's peak RSS. Runs in a process of its
/// own (`gatehouse-bench console`) so that the RSS is the console's alone.
enum ConsoleBench {
    static func run(databasePath: String) async throws -> [BenchResult] {
        let gatehouse = try Gatehouse.open(path: databasePath)
        let counts = try await (gatehouse.sessions.count(), gatehouse.audit.tail(limit: 1).last?.seq ?? 0)
        let scale = "\(counts.0.formatted()) sessions, \(counts.1.formatted()) audit events"
        let backend = MemoryBackend(width: 120, height: 40)
        let app = try ConsoleApp(gatehouse: gatehouse, options: ConsoleOptions(operatorIdentity: .current(via: "bench")),
                                 backend: backend)
        var results: [BenchResult] = []
        func opened(_ name: String, _ action: () -> Void) async {
            let ms = await Measure.milliseconds {
                action()
                await app.settle(timeout: 120)
                app.render()
            }
            results.append(BenchResult(group: "console", name: name, value: ms, unit: "ms", note: scale))
        }
        await opened("open Sessions (first screen)") { app.start() }
        await opened("Sessions: jump to the oldest page (end)") { app.send(.key(.end)) }
        await opened("switch to Tokens (its first page loads with the first screen)") { app.send(.key(.character("2"))) }
        await opened("Tokens: jump to the oldest page (end)") { app.send(.key(.end)) }
        await opened("switch to Limits") { app.send(.key(.character("3"))) }
        await opened("switch to Jobs") { app.send(.key(.character("4"))) }
        await opened("switch to Audit") { app.send(.key(.character("5"))) }
        await opened("Audit: jump to the oldest page (end)") { app.send(.key(.end)) }
        await opened("back to Sessions") { app.send(.key(.character("1"))) }

        // A frame: the whole view rendered into a buffer and diffed against the last one.
        var total = 0.0
        let frames = 200
        for index in 0..<frames {
            app.send(.key(index % 2 == 0 ? .down : .up))
            await app.settle()
            total += await Measure.milliseconds { app.render() }
        }
        results.append(BenchResult(group: "console", name: "render one frame", value: total / Double(frames), unit: "ms",
                                   note: "mean of \(frames), selection moving"))
        results.append(BenchResult(group: "console", name: "peak RSS", value: Measure.peakRSSMegabytes(), unit: "MB"))
        try gatehouse.database.close()
        return results
    }
}
