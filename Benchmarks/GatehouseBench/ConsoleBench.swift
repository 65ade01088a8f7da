import Foundation
import GatehouseConsole
import GatehouseCore
import TerminalKit

/// The console over a large database on the in-memory backend (120×40): how long each pane
/// takes to open and a frame to render, and the process's peak RSS. Runs in a process of its
/// own (`gatehouse-bench console`) so that the RSS is the console's alone.
enum ConsoleBench {
    static func run(databasePath: String) async throws -> [BenchResult] {
        let gatehouse = try Gatehouse.open(path: databasePath, options: .console(readOnly: false))
        // The scale from the newest ids: counting a million rows would fill a page cache that
        // the console itself never fills, and the RSS below is the console's.
        let counts = try await (gatehouse.sessions.list(.init(), limit: 1).first?.session.id ?? 0, gatehouse.audit.tail(limit: 1).last?.seq ?? 0)
        // Digits grouped by hand: `formatted()` would load ICU into this process, whose RSS is the point.
        let scale = "\(grouped(counts.0)) sessions, \(grouped(counts.1)) audit events"
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
        await opened("switch to Pulse (the last hour from the per-minute rollup)") { app.send(.key(.character("6"))) }
        await opened("Pulse: zoom to the last 24 hours") { app.send(.key(.character("z"))) }
        await opened("Pulse: enter on a series' minute (its events in the Audit pane)") {
            app.send(.key(.character("j")))
            app.send(.key(.enter))
        }
        await opened("Pulse: back to the last hour") {
            app.send(.key(.character("6")))
            app.send(.key(.character("z")))
        }

        // Pulse frames: the cursor moving over the charts; the slowest frame counts.
        var pulseFrames: [Double] = []
        for index in 0..<200 {
            app.send(.key(index % 2 == 0 ? .left : .right))
            await app.settle()
            pulseFrames.append(await Measure.milliseconds { app.render() })
        }
        results.append(BenchResult(group: "console", name: "Pulse: render one frame", value: pulseFrames.reduce(0, +) / Double(pulseFrames.count),
                                   unit: "ms", note: "mean of \(pulseFrames.count); slowest \(hundredths(pulseFrames.max() ?? 0)) ms"))
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

    /// 1234567 → "1,234,567", without Foundation's formatters (ICU).
    static func grouped(_ number: Int64) -> String {
        let digits = String(number.magnitude)
        var text = ""
        for (index, digit) in digits.enumerated() {
            if index > 0, (digits.count - index) % 3 == 0 { text.append(",") }
            text.append(digit)
        }
        return number < 0 ? "-" + text : text
    }

    /// 0.4567 → "0.46", without `String(format:)`.
    static func hundredths(_ value: Double) -> String {
        let cents = Int((value * 100).rounded())
        let fraction = cents % 100
        return "\(cents / 100).\(fraction < 10 ? "0" : "")\(fraction)"
    }
}
