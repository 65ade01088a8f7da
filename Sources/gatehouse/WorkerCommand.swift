import ArgumentParser
import Foundation
import GatehouseCore
import GatehouseServer
import Dispatch

struct WorkerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "worker",
        abstract: "Run document jobs from the database until SIGINT or SIGTERM.",
        discussion: """
            On SIGINT/SIGTERM the worker stops claiming, lets running jobs reach a checkpoint and puts them back in \
            the queue, then exits 0. Run as many workers, in as many processes, as you like: a job is claimed by one.
            """)
    @OptionGroup var database: DatabaseArguments
    @Option(parsing: .unconditional, help: "Jobs run at the same time.") var concurrency = 2
    @Option(parsing: .unconditional, help: "Seconds without a heartbeat after which another worker takes the job over.") var lease: Double = 30
    @Option(parsing: .unconditional, help: "Seconds between looks for new work when idle.") var poll: Double = 0.5
    @Option(parsing: .unconditional, help: ArgumentHelp("Where documents go (default: <db>-documents beside an SQLite file; for PostgreSQL $XDG_DATA_HOME/gatehouse/documents/<dbname>@<host>:<port>).", valueName: "path"))
    var dataDir: String?
    @Flag(help: "Run the jobs that are ready, then exit (for scripts and cron).") var untilIdle = false
    @Option(parsing: .unconditional, help: ArgumentHelp("The TOML file `serve` reads; the worker takes its [mail] sendmail and (while running, not with --until-idle) its [audit] checkpoints and [retention] schedule.", valueName: "file"))
    var config: String?
    @Option(parsing: .unconditional, help: ArgumentHelp("The program mail is handed to, run without a shell (default /usr/sbin/sendmail -t -oi).", valueName: "command"))
    var sendmail: String?

    func validate() throws {
        try require(concurrency, in: 1...64, "--concurrency")
        try require(lease, in: 1...86_400, "--lease", " seconds")
        try require(poll, in: 0.01...3600, "--poll", " seconds")
    }

    func run() async throws {
        let file = try config.map { try ServerConfigFile.load(path: $0) }
        let mail = try MailOptions(file: file?.mail ?? MailConfigTable(), sendmail: sendmail)
        let gatehouse = try database.open()
        let worker = JobWorker(gatehouse: gatehouse, options: .init(
            concurrency: concurrency, lease: lease, pollInterval: poll,
            dataDirectory: dataDir.map { URL(fileURLWithPath: $0) } ?? JobWorker.Options.defaultDataDirectory(for: gatehouse.database),
            sendmail: mail.sendmail))
        if untilIdle {
            await worker.runUntilIdle()
            return
        }
        // A signal only sets the stop flag; the worker winds down at its own checkpoints.
        let signalSources = [SIGINT, SIGTERM].map { number in
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler { worker.stop() }
            source.resume()
            return source
        }
        say("gatehouse worker \(worker.options.name) running \(concurrency) slots on \(gatehouse.database.path)", oneLine: true)
        // Signed audit checkpoints ([audit]) and the retention job ([retention]), when the config has them.
        let housekeeping = [file.flatMap { PeriodicTask.checkpoints(gatehouse, $0.checkpoints) { sayError($0) } },
                            file.flatMap { PeriodicTask.retention(gatehouse, $0.retention, checkpoints: $0.checkpoints) { sayError($0) } }]
            .compactMap { $0 }.map { task in Task { await task.run() } }
        await worker.run()
        housekeeping.forEach { $0.cancel() }
        for task in housekeeping { await task.value }
        signalSources.forEach { $0.cancel() }
        try? gatehouse.database.close()
        say("gatehouse worker stopped; running jobs were put back in the queue")
    }
}
