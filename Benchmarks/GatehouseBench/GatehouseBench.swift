import ArgumentParser
import Foundation
import GatehouseCore

@main
struct GatehouseBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gatehouse-bench",
        abstract: "Measure Gatehouse's hot paths against SQLite's own commit rate on this machine.",
        discussion: "Build in release: swift run -c release gatehouse-bench",
        subcommands: [Run.self, Seed.self, ConsoleOnly.self, Hot.self],
        defaultSubcommand: Run.self)
}

struct Run: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "run", abstract: "Run every measurement; print a table and write JSON.")

    @Option(help: "Seconds per rate measurement.") var seconds = 3.0
    @Option(help: "Where the JSON goes.") var output = ".build/gatehouse-bench.json"
    @Option(help: ArgumentHelp("An existing large database for the console section (see `seed`); without it one is generated.",
                               valueName: "path"))
    var consoleDb: String?
    @Option(help: "Sessions in the generated console database.") var sessions = 1_000_000
    @Option(help: "Audit events in the generated console database.") var audit = 10_000_000
    @Flag(help: "Skip the console section (no large database).") var skipConsole = false
    @Option(help: ArgumentHelp("Also run the core section over this PostgreSQL database (an empty one: the bench writes into it; Benchmarks/core-postgres.sh starts a throwaway server).",
                               valueName: "url"))
    var postgres: String?

    func run() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("gatehouse-bench-\(getpid())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        #if DEBUG
        print("warning: a debug build; numbers are meaningless. Use swift run -c release gatehouse-bench")
        #endif
        print("raw SQLite…")
        var results = try await RawSQLiteBench.run(in: directory, seconds: seconds)
        results.append(try await CoreBench.cRotationBaseline(path: directory.appendingPathComponent("c-rotation.sqlite").path, seconds: seconds))
        print("core…")
        results += try await CoreBench.run(database: directory.appendingPathComponent("core.sqlite").path, group: "core", seconds: seconds)
        if let postgres {
            print("core on PostgreSQL…")
            results += try await CoreBench.run(database: postgres, group: "core (PostgreSQL)", seconds: seconds)
        }
        if !skipConsole {
            let path: String
            if let consoleDb {
                path = consoleDb
            } else {
                path = directory.appendingPathComponent("large.sqlite").path
                print("seeding \(sessions.formatted()) sessions and \(audit.formatted()) audit events…")
                let start = ContinuousClock.now
                try Seed.seed(path: path, users: max(1, sessions / 10), sessions: sessions, audit: audit)
                let elapsed = (ContinuousClock.now - start).seconds
                let rows = Double(sessions / 10 + sessions + audit)
                results.append(BenchResult(group: "seed", name: "generate the large database", value: elapsed, unit: "s",
                                           note: "\(Int(rows / elapsed).formatted()) rows/s"))
            }
            print("console…")
            results += try ConsoleOnly.inChildProcess(databasePath: path)
        }
        let commitRate = results.first { $0.group == "raw SQLite" && $0.name.hasPrefix("C API: single-row") }?.value ?? 0
        // Each rotation row against the C API's: what the storage layer, crypto and tasks add.
        if let cRotation = results.first(where: { $0.name.hasPrefix("C API: a refresh rotation") })?.value {
            for index in results.indices where results[index].name.hasPrefix("refresh rotations") && results[index].group == "core" {
                let cost = String(format: "costs %.2f× the C API's rotation", cRotation / results[index].value)
                results[index].note = [cost, results[index].note].compactMap { $0 }.joined(separator: "; ")
            }
        }
        for index in results.indices where results[index].unit == "ops/s" && ["core", "console"].contains(results[index].group) && commitRate > 0 {
            results[index].ratioToRawCommits = results[index].value / commitRate
        }
        let report = BenchReport(date: ISO8601DateFormatter().string(from: Date()), machine: Self.machine(),
                                 cores: ProcessInfo.processInfo.activeProcessorCount, build: Self.build, results: results)
        print(report.table())
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        let outputURL = URL(fileURLWithPath: output)
        try FileManager.default.createDirectory(at: outputURL.deletingLastPathComponent(), withIntermediateDirectories: true)
        try encoder.encode(report).write(to: outputURL)
        print("\nwritten to \(output)")
    }

    static var build: String {
        #if DEBUG
        "debug"
        #else
        "release"
        #endif
    }

    static func machine() -> String {
        let model = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8))?
            .split(separator: "\n").first { $0.hasPrefix("model name") }?
            .split(separator: ":", maxSplits: 1).last?.trimmingCharacters(in: .whitespaces)
        return model ?? ProcessInfo.processInfo.hostName
    }
}

struct Seed: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "seed", abstract: "Create (or extend) a large database: users, sessions with refresh families, chained audit events.")

    @Option(help: "The database file (created when missing).") var db: String
    @Option(help: "Sessions to add (one refresh token per API session).") var sessions = 1_000_000
    @Option(help: "Audit events to add, continuing the hash chain.") var audit = 10_000_000
    @Option(help: "Users to add (default: a tenth of the sessions).") var users: Int?

    func run() async throws {
        let start = ContinuousClock.now
        try Self.seed(path: db, users: users ?? max(1, sessions / 10), sessions: sessions, audit: audit, verbose: true)
        let elapsed = (ContinuousClock.now - start).seconds
        print("\nseeded \(db) in \(String(format: "%.1f", elapsed)) s")
    }

    static func seed(path: String, users: Int, sessions: Int, audit: Int, verbose: Bool = false) throws {
        let gatehouse = try Gatehouse.open(path: path, options: .init(createIfMissing: true))
        var lastShown = -1
        try SyntheticData.seed(.init(users: users, sessions: sessions, auditEvents: audit), into: gatehouse.database) { done, total in
            let percent = total == 0 ? 100 : done * 100 / total
            if verbose, percent != lastShown {
                lastShown = percent
                print("\r\(percent)% (\(done.formatted()) of \(total.formatted()) rows)", terminator: "")
                fflush(nil)
            }
        }
        try gatehouse.database.close()
    }
}

struct ConsoleOnly: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "console", abstract: "Only the console measurements, over an existing database; prints JSON.")

    @Option(help: "The (large) database to open.") var db: String

    func run() async throws {
        let results = try await ConsoleBench.run(databasePath: db)
        let data = try JSONEncoder().encode(results)
        FileHandle.standardOutput.write(data)
    }

    /// Runs `console` in a fresh process so that its peak RSS is the console's alone.
    static func inChildProcess(databasePath: String) throws -> [BenchResult] {
        let console = try ChildProcess(URL(fileURLWithPath: CommandLine.arguments[0]).standardizedFileURL.path,
                                       ["console", "--db", databasePath], output: .pipe)
        let data = console.output!.readDataToEndOfFile()
        let ended = console.wait()
        guard ended == .exited(0) else { throw BenchError.unexpected("console measurement exited \(ended.status)") }
        return try JSONDecoder().decode([BenchResult].self, from: data)
    }
}
