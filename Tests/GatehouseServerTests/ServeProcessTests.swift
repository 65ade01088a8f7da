import Foundation
import GatehouseCore
import GatehouseTestSupport
import GRDB
import Testing

/// `gatehouse serve` as operators run it: a real process on a free port, driven over HTTP,
/// with the CLI acting on the same file at the same time.
@Suite("gatehouse serve (real process)")
struct ServeProcessTests {
    struct RunningServer {
        let process: Subprocess
        let base: String

        /// Sends SIGTERM and waits for the exit, off the cooperative pool (a graceful
        /// shutdown drains for seconds on a loaded machine).
        func stopped() async -> Subprocess.Result {
            process.terminate()
            return await process.exit()
        }

        /// Sends SIGTERM and returns at once (`Subprocess.stop`): for a `defer`.
        func stop() { process.stop() }
    }

    /// Starts `serve --port 0` and waits for the line that names the chosen port. Outside
    /// `--dev` a public URL is required; one is given unless `extra` or a config names it.
    static func start(db: String, _ extra: [String] = [], environment: [String: String] = [:]) async throws -> RunningServer {
        let needsURL = !extra.contains("--dev") && !extra.contains("--public-url") && !extra.contains("--config")
        let process = try GatehouseBinary.start(["serve", "--db", db, "--port", "0"] + extra
                                                + (needsURL ? ["--public-url", "https://app.example.test"] : []), environment: environment)
        let deadline = ContinuousClock.now + .seconds(120)
        while ContinuousClock.now < deadline {
            let output = process.outputSoFar()
            if let range = output.range(of: #"http://127\.0\.0\.1:\d+"#, options: .regularExpression) {
                return RunningServer(process: process, base: String(output[range]))
            }
            if kill(process.pid, 0) != 0 { break }
            try await Task.sleep(for: .milliseconds(50))
        }
        process.terminate()
        let result = await process.exit()
        throw ServeError.didNotStart(result.stdout + result.stderr)
    }

    enum ServeError: Error { case didNotStart(String) }

    /// True when an established TCP connection on the server's side of `port` has nothing left
    /// unread (/proc/net/tcp: local port, state 01, rx_queue 0): the request is in the server.
    static func hasReadConnection(port: Int) -> Bool {
        guard let table = ProcFile.text("/proc/net/tcp") else { return false }
        return table.split(separator: "\n").dropFirst().contains { line in
            let fields = line.split(separator: " ")
            guard fields.count > 4, let local = fields[1].split(separator: ":").last, Int(local, radix: 16) == port else { return false }
            return fields[3] == "01" && fields[4].split(separator: ":").last.flatMap { Int($0, radix: 16) } == 0
        }
    }

    @Test("a file with a corrupt page: /healthz is 503 with SQLite's reason (the log says how to recover); a write is a 503 problem", .sqliteOnly)
    func corruptFile() async throws {
        let directory = try TemporaryDirectory()
        let db = directory.path("corrupt.sqlite")
        #expect(try await GatehouseBinary.run(["init", "--db", db]).status == 0)
        _ = try await GatehouseBinary.run(["debug", "login-churn", "--db", db, "--count", "3", "--email", "a@example.com"])
        try DamagedFile.corruptRootPage(of: "sessions", in: db)
        let server = try await Self.start(db: db)
        let health = try await HTTPRequester.shared.send("GET", server.base + "/healthz")
        #expect(health.status == 503)
        let detail = health.json["detail"] as? String ?? ""
        #expect(detail.contains("corrupt") && detail.contains("malformed") && !detail.contains(db), "\(health.text)")
        let write = try await HTTPRequester.shared.send("POST", server.base + "/api/v1/auth/magic-link", json: #"{"email":"b@example.com"}"#)
        #expect(write.status == 503, "\(write.text)")
        #expect(write.headers["content-type"] == "application/problem+json")
        let result = await server.stopped()
        #expect(result.stderr.contains("is corrupt") && result.stderr.contains(".recover"), "\(result.stderr)")
    }

    @Test("X-Forwarded-For without --trust-proxy is ignored, and serve says so once in its log")
    func forwardedForWithoutTrust() async throws {
        let directory = try TemporaryDirectory()
        let server = try await Self.start(db: try directory.database("xff"))
        for _ in 0..<3 {
            _ = try await HTTPRequester.shared.send("GET", server.base + "/healthz", headers: ["X-Forwarded-For": "192.0.2.1"])
        }
        let result = await server.stopped()
        let warnings = result.stderr.components(separatedBy: "X-Forwarded-For but --trust-proxy is off").count - 1
        #expect(warnings == 1, "\(result.stderr)")
    }

    @Test("login → refresh → me → operator revokes with the CLI → me is 401; SIGTERM stops it cleanly")
    func endToEnd() async throws {
        let directory = try TemporaryDirectory()
        let db = try directory.database("serve")
        let server = try await Self.start(db: db, ["--dev"])
        let http = HTTPRequester.shared

        let link = try await http.send("POST", server.base + "/api/v1/auth/magic-link", json: #"{"email":"erin@example.com"}"#)
        #expect(link.status == 202)
        let token = try #require(link.json["dev_token"] as? String)
        let verified = try await http.send("POST", server.base + "/api/v1/auth/verify", json: #"{"token":"\#(token)"}"#)
        #expect(verified.status == 200)
        let refresh = try #require(verified.json["refresh_token"] as? String)
        let refreshed = try await http.send("POST", server.base + "/api/v1/auth/refresh", json: #"{"refresh_token":"\#(refresh)"}"#)
        #expect(refreshed.status == 200)
        let access = try #require(refreshed.json["access_token"] as? String)
        let me = try await http.send("GET", server.base + "/api/v1/auth/me", headers: ["Authorization": "Bearer \(access)"])
        #expect(me.status == 200)
        let handle = try #require((me.json["session"] as? [String: Any])?["handle"] as? String)

        let revoke = try await GatehouseBinary.run(["sessions", "revoke", handle, "--yes", "--db", db])
        #expect(revoke.status == 0, "\(revoke.stderr)")
        let after = try await http.send("GET", server.base + "/api/v1/auth/me", headers: ["Authorization": "Bearer \(access)"])
        #expect(after.status == 401)
        #expect(after.json["reason"] as? String == "revoked")

        let result = await server.stopped()
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("database closed"))
        // The clean close checkpointed the WAL: the main file alone holds everything.
        let wal = (try? FileManager.default.attributesOfItem(atPath: db + "-wal")[.size] as? NSNumber)?.intValue ?? 0
        #expect(wal == 0)
    }

    @Test("on SIGTERM a request in flight still gets its answer before the process exits", .sqliteOnly)
    func gracefulShutdown() async throws {
        let directory = try TemporaryDirectory()
        let db = try directory.database("graceful")
        // A lock wait of 300 s, not 5: the test is about the shutdown, and on a loaded machine the
        // steps below can take longer than 5 s (the request then answered 503 in CI).
        let server = try await Self.start(db: db, ["--db-wait", "300"])
        // Hold the write lock so the next write request waits inside the server.
        let holder = try WriteLockHolder(path: db)
        // The request's bytes are in the kernel when send returns (an HTTP client's are not
        // observable), so "nothing unread on the server's side" below can only mean it read them.
        let body = #"{"email":"f@example.com"}"#
        let connection = try RawConnection(base: server.base)
        connection.send("POST /api/v1/auth/magic-link HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                        + "Content-Length: \(body.utf8.count)\r\n\r\n\(body)")
        // Wait for the state, not a time: the server holds our connection and has read the request.
        let port = try #require(Int(server.base.split(separator: ":").last ?? ""))
        #expect(try await eventually(every: .milliseconds(20)) { Self.hasReadConnection(port: port) }, "the request never reached the server")
        server.process.terminate()
        try await Task.sleep(for: .milliseconds(300))
        #expect(kill(server.process.pid, 0) == 0, "the server waits for the request in flight")
        holder.release()
        let answer = await connection.readResponse()
        #expect(answer?.status == 202)
        let result = await server.process.exit()
        #expect(result.status == 0, "\(result.stderr)")
    }

    @Test("a generic cookie name on localhost gets the RFC 6265 warning; bad options exit 2 with a message")
    func warningsAndBadOptions() async throws {
        let directory = try TemporaryDirectory()
        let db = try directory.database("opts")
        let server = try await Self.start(db: db, ["--cookie-name", "session", "--insecure-cookies"])
        let result = await server.stopped()
        #expect(result.stderr.contains("RFC 6265"))

        for (arguments, message) in [(["--rate-limit", "refresh"], "name=rate"), (["--rate-limit", "refresh=lots"], "invalid rate"),
                                     (["--rate-limit", "nope=1/minute"], "unknown rate-limit policy"),
                                     (["--cookie-name", "bad name"], "not a valid cookie name"),
                                     (["--port", "70000"], "0–65535"), (["--log-level", "loud"], "log-level"),
                                     (["--refresh-reuse-grace", "90"], "--refresh-reuse-grace must be between")] {
            let run = try await GatehouseBinary.run(["serve", "--db", db] + arguments)
            #expect(run.status == 2, "\(arguments): \(run.stderr)")
            #expect(run.stderr.contains(message), "\(arguments): \(run.stderr)")
        }
    }

    @Test("a config file sets options and limits; a mistake in it is reported as file:line and exits 2")
    func configFile() async throws {
        let directory = try TemporaryDirectory()
        let db = try directory.database("config")
        let good = directory.path("good.toml")
        try """
            # test config
            [server]
            dev = true

            [rate_limits]
            refresh = "1/minute"
            """.write(toFile: good, atomically: true, encoding: .utf8)
        let server = try await Self.start(db: db, ["--config", good])
        let link = try await HTTPRequester.shared.send("POST", server.base + "/api/v1/auth/magic-link", json: #"{"email":"g@example.com"}"#)
        #expect(link.json["dev_token"] != nil)
        let verified = try await HTTPRequester.shared.send("POST", server.base + "/api/v1/auth/verify",
                                                           json: #"{"token":"\#(link.json["dev_token"] as? String ?? "")"}"#)
        var refresh = verified.json["refresh_token"] as? String ?? ""
        let first = try await HTTPRequester.shared.send("POST", server.base + "/api/v1/auth/refresh", json: #"{"refresh_token":"\#(refresh)"}"#)
        refresh = first.json["refresh_token"] as? String ?? ""
        let second = try await HTTPRequester.shared.send("POST", server.base + "/api/v1/auth/refresh", json: #"{"refresh_token":"\#(refresh)"}"#)
        #expect(first.status == 200)
        #expect(second.status == 429)
        _ = await server.stopped()

        let bad = directory.path("bad.toml")
        try "[server]\nport = 8080\n\n[rate_limits]\nrefresh = \"often\"\n".write(toFile: bad, atomically: true, encoding: .utf8)
        let run = try await GatehouseBinary.run(["serve", "--db", db, "--config", bad])
        #expect(run.status == 2)
        #expect(run.stderr.contains("bad.toml:5: invalid rate 'often'"), "\(run.stderr)")
    }
}
