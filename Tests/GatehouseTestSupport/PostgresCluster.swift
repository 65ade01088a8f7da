import Foundation

/// A throwaway PostgreSQL server for one test run: `initdb` into a temporary directory, a Unix
/// socket only (no TCP port to collide on), password authentication, stopped and deleted when
/// released. Run as the `postgres` OS user when the tests run as root (the server refuses root).
///
/// Debian's server binaries (`apt-get install postgresql`; `.ci/run` installs them) are found
/// under `/usr/lib/postgresql/<version>/bin`, or through `pg_config --bindir`.
public final class PostgresCluster: @unchecked Sendable {
    public let directory: String
    public let port: Int
    public let superuser = "postgres"
    public let password: String
    private let binaries: String
    private let runAs: String?
    private let serverOptions: String

    /// The socket directory: the URL's `host`.
    public var socketDirectory: String { directory }

    /// `postgresql:///DATABASE?host=DIR&port=PORT&user=postgres` plus the password.
    public func url(database: String = "postgres", password: String? = nil, user: String? = nil) -> String {
        let pass = (password ?? self.password).addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? ""
        return "postgresql://\(user ?? superuser):\(pass)@/\(database)?host=\(directory.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? directory)&port=\(port)"
    }

    /// Why no cluster can start here, or nil when one can.
    public static var unavailableReason: String? {
        findBinaries() == nil ? "PostgreSQL server binaries not found (apt-get install postgresql)" : nil
    }

    /// Whether PostgreSQL tests run: when the binaries are here, and always under CI (`CI` set),
    /// where a missing server is a failure, not a skip.
    public static var testsRun: Bool { unavailableReason == nil || ProcessInfo.processInfo.environment["CI"] != nil }

    /// Starts a cluster; throws with the server's own words when it cannot. `settings` are
    /// extra `-c name=value` server settings. initdb and `pg_ctl start` take seconds (tens on a
    /// loaded machine), so they run off the cooperative pool: every test of the run shares its
    /// two threads, and a test that blocked them stalled in-process servers long enough for
    /// other tests' HTTP clients to time out (the PostgreSQL CI run, 2026-12-01).
    public static func start(settings: [String] = []) async throws -> PostgresCluster {
        try await offPool { try PostgresCluster(settings: settings) }
    }

    /// The blocking start (for `TestEngine`'s shared cluster, started once under its lock).
    init(settings: [String] = []) throws {
        guard let binaries = Self.findBinaries() else { throw ClusterError.unavailable(Self.unavailableReason ?? "") }
        self.binaries = binaries
        runAs = geteuid() == 0 ? "postgres" : nil
        port = Int.random(in: 20_000...60_000)
        password = "pw-" + UUID().uuidString.prefix(8).lowercased()
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("gatehouse-pg-\(UUID().uuidString.prefix(8))").path
        serverOptions = "-k \(directory) -p \(port) -c listen_addresses='' -c fsync=off" + settings.map { " -c \($0)" }.joined()
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: false,
                                                attributes: [.posixPermissions: 0o700])
        if let runAs { _ = try Subprocess.run("/bin/chown", [runAs, directory]) }
        let passwordFile = directory + "/pwfile"
        try run("/bin/sh", ["-c", "umask 077; printf '%s\\n' \"$0\" > \"$1\"", password, passwordFile])
        try run(binaries + "/initdb", ["-D", directory + "/data", "-U", superuser, "--pwfile", passwordFile,
                                       "--auth-local=scram-sha-256", "--auth-host=scram-sha-256", "-E", "UTF8", "--no-sync"])
        try startServer()
    }

    /// Starts the server again, after `pause`, on the same socket and port.
    public func resume() async throws { try await offPool { try self.startServer() } }

    private func startServer() throws {
        try run(binaries + "/pg_ctl", ["-D", directory + "/data", "-l", directory + "/server.log", "-w", "-t", "120", "start",
                                       "-o", serverOptions])
    }

    /// The server's log so far (for a failing test's message).
    public var log: String { (try? String(contentsOfFile: directory + "/server.log", encoding: .utf8)) ?? "" }

    /// Stops the server (fast shutdown) and removes everything, on a thread of its own: this
    /// returns at once (it is what a test's `defer` calls), and the test process waits for every
    /// such stop before it exits, so no server outlives the run.
    public func stop() {
        Self.stopping.enter()
        Thread.detachNewThread {
            self.stopNow()
            Self.stopping.leave()
        }
    }

    /// Stops still under way; the process waits for them (up to two minutes) when it exits.
    private static let stopping: DispatchGroup = {
        atexit { _ = PostgresCluster.stopping.wait(timeout: .now() + 120) }
        return DispatchGroup()
    }()

    /// The blocking stop (at exit, and on the stopping thread).
    func stopNow() {
        guard FileManager.default.fileExists(atPath: directory) else { return }
        _ = try? run(binaries + "/pg_ctl", ["-D", directory + "/data", "-m", "fast", "-w", "stop"])
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// Stops the server but keeps its files: a server that went away.
    public func pause() async throws {
        try await offPool { try self.run(self.binaries + "/pg_ctl", ["-D", self.directory + "/data", "-m", "fast", "-w", "stop"]) }
    }

    /// Stops every process of the server (SIGSTOP: the postmaster and its backends) without
    /// closing a socket: a server that went silent, as behind a dead network path.
    public func freeze() throws { try signalAll(SIGSTOP) }

    /// Lets a frozen server run again (SIGCONT).
    public func thaw() throws { try signalAll(SIGCONT) }

    private func signalAll(_ signal: Int32) throws {
        let pidFile = try String(contentsOfFile: directory + "/data/postmaster.pid", encoding: .utf8)
        guard let postmaster = pidFile.split(separator: "\n").first.flatMap({ pid_t($0) }) else {
            throw ClusterError.failed("no postmaster pid in \(directory)/data/postmaster.pid")
        }
        let children = (try? String(contentsOfFile: "/proc/\(postmaster)/task/\(postmaster)/children", encoding: .utf8)) ?? ""
        for pid in [postmaster] + children.split(separator: " ").compactMap({ pid_t($0) }) { kill(pid, signal) }
    }

    /// Runs SQL as the superuser through `psql` (creating databases and roles for a test).
    @discardableResult
    public func psql(_ sql: String, database: String = "postgres") async throws -> String {
        try await offPool { try self.psqlNow(sql, database: database) }
    }

    /// `psql` on the calling thread, for `TestEngine`'s short statements under its own lock.
    @discardableResult
    func psqlNow(_ sql: String, database: String = "postgres") throws -> String {
        try run(binaries + "/psql", ["-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-h", directory, "-p", String(port),
                                            "-U", superuser, "-d", database, "-c", sql], environment: ["PGPASSWORD": password])
    }

    deinit { stopNow() }

    @discardableResult
    private func run(_ executable: String, _ arguments: [String], environment: [String: String] = [:]) throws -> String {
        let (program, argv) = runAs.map { ("/usr/sbin/runuser", ["-u", $0, "--", executable] + arguments) } ?? (executable, arguments)
        let result = try Subprocess.run(program, argv, environment: environment)
        guard result.status == 0 else {
            throw ClusterError.failed("\((executable as NSString).lastPathComponent) exited \(result.status): \(result.stderr)\(result.stdout)")
        }
        return result.stdout
    }

    private static func findBinaries() -> String? {
        let root = "/usr/lib/postgresql"
        let versions = ((try? FileManager.default.contentsOfDirectory(atPath: root)) ?? []).compactMap(Int.init).sorted()
        if let newest = versions.last, FileManager.default.isExecutableFile(atPath: "\(root)/\(newest)/bin/initdb") {
            return "\(root)/\(newest)/bin"
        }
        if let result = try? Subprocess.run("pg_config", ["--bindir"]), result.status == 0 {
            let directory = result.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
            if FileManager.default.isExecutableFile(atPath: directory + "/initdb") { return directory }
        }
        return nil
    }

    public enum ClusterError: Error, CustomStringConvertible {
        case unavailable(String)
        case failed(String)

        public var description: String {
            switch self {
            case .unavailable(let why), .failed(let why): why
            }
        }
    }
}
