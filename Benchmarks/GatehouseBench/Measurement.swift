import Foundation

/// One number the benchmark reports.
struct BenchResult: Codable, Sendable {
    var group: String
    var name: String
    var value: Double
    /// `ops/s`, `ms`, `MB`, `rows/s`.
    var unit: String
    /// For rates: this rate divided by the raw single-row commit rate of the same run.
    var ratioToRawCommits: Double?
    var note: String?

    enum CodingKeys: String, CodingKey {
        case group, name, value, unit, note
        case ratioToRawCommits = "ratio_to_raw_commits"
    }
}

/// Timing helpers. Rates run an operation back to back for a fixed time (after a short
/// warm-up), so each number is the steady state, not the first-call cost.
enum Measure {
    static func rate(seconds: Double, warmUp: Double = 0.2, _ operation: () async throws -> Void) async throws -> Double {
        let warmEnd = ContinuousClock.now + .milliseconds(Int(warmUp * 1000))
        while ContinuousClock.now < warmEnd { try await operation() }
        let start = ContinuousClock.now
        let end = start + .milliseconds(Int(seconds * 1000))
        var count = 0
        while ContinuousClock.now < end {
            try await operation()
            count += 1
        }
        return Double(count) / (ContinuousClock.now - start).seconds
    }

    /// The same loop for synchronous work. Kept apart on purpose: inside an async closure GRDB
    /// picks its async overloads, which would add a task hop to the raw SQLite baseline.
    static func syncRate(seconds: Double, warmUp: Double = 0.2, _ operation: () throws -> Void) throws -> Double {
        let warmEnd = ContinuousClock.now + .milliseconds(Int(warmUp * 1000))
        while ContinuousClock.now < warmEnd { try operation() }
        let start = ContinuousClock.now
        let end = start + .milliseconds(Int(seconds * 1000))
        var count = 0
        while ContinuousClock.now < end {
            try operation()
            count += 1
        }
        return Double(count) / (ContinuousClock.now - start).seconds
    }

    /// `tasks` concurrent loops of `operation(taskIndex)` for `seconds`; total operations per second.
    static func concurrentRate(tasks: Int, seconds: Double,
                               _ makeOperation: @escaping @Sendable (Int) async throws -> @Sendable () async throws -> Void) async throws -> Double {
        let start = ContinuousClock.now
        let end = start + .milliseconds(Int(seconds * 1000))
        let total = try await withThrowingTaskGroup(of: Int.self) { group in
            for index in 0..<tasks {
                group.addTask {
                    let operation = try await makeOperation(index)
                    var count = 0
                    while ContinuousClock.now < end {
                        try await operation()
                        count += 1
                    }
                    return count
                }
            }
            return try await group.reduce(0, +)
        }
        return Double(total) / (ContinuousClock.now - start).seconds
    }

    /// Milliseconds one call of `operation` takes.
    static func milliseconds(_ operation: () async throws -> Void) async rethrows -> Double {
        let start = ContinuousClock.now
        try await operation()
        return (ContinuousClock.now - start).milliseconds
    }

    /// Peak resident set size of this process, in MB.
    static func peakRSSMegabytes() -> Double {
        var usage = rusage()
        getrusage(Int32(RUSAGE_SELF.rawValue), &usage)
        return Double(usage.ru_maxrss) / 1024 // kilobytes on Linux
    }
}

extension Duration {
    var seconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
    var milliseconds: Double { seconds * 1000 }
}

/// The table printed at the end and the JSON written beside it.
struct BenchReport: Codable {
    var date: String
    var machine: String
    var cores: Int
    var build: String
    var results: [BenchResult]

    func table() -> String {
        var lines = ["gatehouse-bench — \(date), \(machine), \(cores) cores, \(build) build", ""]
        let nameWidth = max(40, results.map { $0.group.count + $0.name.count + 2 }.max() ?? 40)
        lines.append("measure".padding(toLength: nameWidth, withPad: " ", startingAt: 0) + "      value  unit     vs raw commits")
        var group = ""
        for result in results {
            if result.group != group {
                group = result.group
                lines.append("")
            }
            let label = "\(result.group): \(result.name)".padding(toLength: nameWidth, withPad: " ", startingAt: 0)
            let value = Self.format(result.value).leftPadded(to: 11)
            let unit = result.unit.padding(toLength: 8, withPad: " ", startingAt: 0)
            let ratio = result.ratioToRawCommits.map { String(format: "%6.2f×", $0) } ?? ""
            lines.append("\(label)\(value)  \(unit) \(ratio)\(result.note.map { "  \($0)" } ?? "")")
        }
        return lines.joined(separator: "\n")
    }

    static func format(_ value: Double) -> String {
        if value >= 1000 {
            let formatter = NumberFormatter()
            formatter.numberStyle = .decimal
            formatter.maximumFractionDigits = 0
            return formatter.string(from: NSNumber(value: value.rounded())) ?? String(Int(value))
        }
        return value >= 10 ? String(format: "%.1f", value) : String(format: "%.2f", value)
    }
}

extension String {
    func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: " ", count: width - count) + self
    }
}
