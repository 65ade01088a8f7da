import Foundation
import GatehouseCore
import GatehouseTestSupport
import Testing

/// Field reports II, the HTTP edge: what `serve` does with clients that stall, abort, send
/// what no HTTP client would, or crowd it. Real processes and real sockets; every test waits for
/// the state it needs (a close, a counter), never for a time.
@Suite("HTTP edge: timeouts, connection cap, parser refusals, aborts")
struct HTTPEdgeTests {
    static func serve(_ extra: [String] = []) async throws -> (ServeProcessTests.RunningServer, TemporaryDirectory) {
        let directory = try TemporaryDirectory()
        return (try await ServeProcessTests.start(db: try directory.database("edge"), extra), directory)
    }

    static func metrics(_ server: ServeProcessTests.RunningServer) async throws -> String {
        try await HTTPRequester.shared.send("GET", server.base + "/metrics").text
    }

    /// Polls /metrics until `line` appears (generous bound), for counters the edge bumps after
    /// the connection it counts has closed.
    static func waitForMetric(_ server: ServeProcessTests.RunningServer, _ line: String) async throws -> String {
        var text = ""
        _ = try await eventually {
            text = try await metrics(server)
            return text.contains(line)
        }
        return text
    }

    @Test("a stalled head or body gets 408 and a close; an idle keep-alive is closed")
    func stalledClients() async throws {
        let (server, directory) = try await Self.serve(["--header-timeout", "1", "--body-timeout", "2", "--idle-timeout", "2"])
        defer { server.stop(); _ = directory }

        // Headers and Content-Length: 1000, then one body byte and nothing more (the field report).
        let body = try RawConnection(base: server.base)
        body.send("POST /api/v1/auth/refresh HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{")
        let bodyAnswer = await body.readUntilClosed()
        #expect(bodyAnswer.closed)
        let bodyResponse = try #require(RawResponse(bodyAnswer.bytes))
        #expect(bodyResponse.status == 408)
        #expect(bodyResponse.headers["content-type"] == "application/problem+json")
        #expect(bodyResponse.body.contains("urn:gatehouse:problem:request-timeout"))

        // Half a head.
        let head = try RawConnection(base: server.base)
        head.send("GET /healthz HTTP/1.1\r\nHo")
        let headAnswer = await head.readUntilClosed()
        #expect(headAnswer.closed)
        #expect(RawResponse(headAnswer.bytes)?.status == 408)

        // A whole request, then silence: answered, then closed when idle.
        let idle = try RawConnection(base: server.base)
        idle.send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        let idleAnswer = await idle.readUntilClosed()
        #expect(idleAnswer.closed)
        #expect(RawResponse(idleAnswer.bytes)?.status == 200)

        // Answered before its body came (no route reads a GET's body), then the body: the
        // connection is back to idle, and the idle timer closes it.
        let early = try RawConnection(base: server.base)
        early.send("GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\n")
        #expect(await early.readResponse()?.status == 200)
        early.send("12345")
        #expect(await early.readUntilClosed().closed)

        let text = try await Self.waitForMetric(server, #"gatehouse_http_edge_refusals_total{reason="idle_timeout"}"#)
        for reason in ["header_timeout", "body_timeout", "idle_timeout"] {
            #expect(text.contains(#"gatehouse_http_edge_refusals_total{reason="\#(reason)"}"#), "\(reason)")
        }
    }

    @Test("a 413 closes the connection at once (no timer does it: every timeout is 600 s)")
    func tooLargeCloses() async throws {
        let (server, directory) = try await Self.serve(["--header-timeout", "600", "--body-timeout", "600", "--idle-timeout", "600"])
        defer { server.stop(); _ = directory }
        // An oversized body without Connection: close from the client: 413, then the server closes.
        let large = try RawConnection(base: server.base)
        large.send("POST /api/v1/auth/refresh HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{")
        let answer = await large.readUntilClosed()
        #expect(answer.closed)
        let response = try #require(RawResponse(answer.bytes))
        #expect(response.status == 413)
        #expect(response.headers["connection"]?.lowercased() == "close")
        // HTTP/1.0 without keep-alive: closed after its answer.
        let old = try RawConnection(base: server.base)
        old.send("GET /healthz HTTP/1.0\r\n\r\n")
        let oldAnswer = await old.readUntilClosed()
        #expect(oldAnswer.closed && RawResponse(oldAnswer.bytes)?.status == 200)
        #expect(!(try await Self.metrics(server)).contains("gatehouse_http_edge_refusals_total"))
    }

    @Test("keep-alive and pipelining: answers in order; a refused request is answered after the ones before it")
    func pipelining() async throws {
        let (server, directory) = try await Self.serve()
        defer { server.stop(); _ = directory }
        let connection = try RawConnection(base: server.base)
        for _ in 0..<3 {
            connection.send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            #expect(await connection.readResponse()?.status == 200)
        }
        // One packet: a good request, then one with a NUL in a header.
        let pipelined = try RawConnection(base: server.base)
        pipelined.send(Array("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\nGET /healthz HTTP/1.1\r\nHost: x\r\nX-A: a".utf8) + [0]
                       + Array("b\r\n\r\n".utf8))
        let answer = await pipelined.readUntilClosed()
        let text = String(decoding: answer.bytes, as: UTF8.self)
        // Status lines start the text or follow a body ("}HTTP/1.1 …"); a problem's detail may say "HTTP/1.1" too.
        let statuses = text.matches(of: #/(?:^|\}|\r\n)HTTP/1\.1 (\d{3}) /#).map { String($0.output.1) }
        #expect(statuses == ["200", "400"], "\(text)")
        #expect(answer.closed)
    }

    @Test("a client that never reads its answers is closed after --send-timeout")
    func sendTimeout() async throws {
        let (server, directory) = try await Self.serve(["--send-timeout", "1", "--idle-timeout", "600"])
        defer { server.stop(); _ = directory }
        let connection = try RawConnection(base: server.base, receiveBuffer: 4096)
        // Pipelined requests for a 30 KB document, none read: the server's send buffer fills.
        connection.send(String(repeating: "GET /openapi.json HTTP/1.1\r\nHost: x\r\n\r\n", count: 200))
        let text = try await Self.waitForMetric(server, #"gatehouse_http_edge_refusals_total{reason="send_timeout"} 1"#)
        #expect(text.contains(#"gatehouse_http_edge_refusals_total{reason="send_timeout"} 1"#))
    }

    @Test("what the parser refuses is a problem document: 431, 414, 400 (each field-report input)")
    func parserRefusals() async throws {
        let (server, directory) = try await Self.serve()
        defer { server.stop(); _ = directory }
        let cases: [(String, [UInt8], Int, String)] = [
            ("a 200 KB header", Array("GET /healthz HTTP/1.1\r\nHost: x\r\nX-A: \(String(repeating: "a", count: 200_000))\r\n\r\n".utf8),
             431, "headers-too-large"),
            ("90 headers of 1 KB (≥ 80 KB in all)",
             Array(("GET /healthz HTTP/1.1\r\nHost: x\r\n" + (0..<90).map { "X-\($0): \(String(repeating: "b", count: 1000))\r\n" }.joined() + "\r\n").utf8),
             431, "headers-too-large"),
            ("a 100 KB path", Array("GET /\(String(repeating: "p", count: 100_000)) HTTP/1.1\r\nHost: x\r\n\r\n".utf8), 414, "uri-too-long"),
            ("Content-Length: -1", Array("POST /api/v1/auth/refresh HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n".utf8),
             400, "invalid-request"),
            ("invalid UTF-8 in the path", Array("GET /".utf8) + [0xFF, 0xFE] + Array(" HTTP/1.1\r\nHost: x\r\n\r\n".utf8), 400, "invalid-request"),
            ("NUL in a header", Array("GET /healthz HTTP/1.1\r\nHost: x\r\nX-A: a".utf8) + [0] + Array("b\r\n\r\n".utf8), 400, "invalid-request"),
        ]
        for (name, bytes, status, type) in cases {
            let connection = try RawConnection(base: server.base)
            connection.send(bytes)
            let answer = await connection.readUntilClosed()
            let response = try #require(RawResponse(answer.bytes), "\(name): \(String(decoding: answer.bytes.prefix(200), as: UTF8.self))")
            #expect(response.status == status, "\(name)")
            #expect(response.headers["content-type"] == "application/problem+json", "\(name)")
            #expect(response.body.contains("urn:gatehouse:problem:\(type)"), "\(name): \(response.body)")
            #expect(answer.closed, "\(name): the connection stays open")
        }
    }

    @Test("a client that closes mid-body is counted as 499, not 500, and logged below error")
    func clientAbort() async throws {
        let (server, directory) = try await Self.serve()
        defer { _ = directory }
        let connection = try RawConnection(base: server.base)
        connection.send("POST /api/v1/auth/refresh HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{")
        // Until the server has the head (the route is reading the body), then gone.
        let port = Int(server.base.split(separator: ":").last!)!
        _ = try await eventually(every: .milliseconds(20)) { ServeProcessTests.hasReadConnection(port: port) }
        connection.close()
        let text = try await Self.waitForMetric(server, #"route="/api/v1/auth/refresh",status="499""#)
        #expect(text.contains(#"route="/api/v1/auth/refresh",status="499""#))
        #expect(!text.contains(#"status="500""#))
        let result = await server.stopped()
        #expect(!result.stderr.contains(" error "), "\(result.stderr)")
    }

    @Test("past --max-connections a client waits in the backlog until a connection closes")
    func connectionCap() async throws {
        let (server, directory) = try await Self.serve(["--max-connections", "2", "--header-timeout", "600"])
        defer { server.stop(); _ = directory }
        let first = try RawConnection(base: server.base)
        let second = try RawConnection(base: server.base)
        // Both are in once each has had an answer. (The cap stops the listener between accepts,
        // so a burst of connections arriving in one go can pass it by a few.)
        for connection in [first, second] {
            connection.send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            #expect(await connection.readResponse()?.status == 200)
        }
        let third = try RawConnection(base: server.base)
        third.send("GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        // Not answered while two connections are open: waiting longer only makes this surer.
        let early = await third.readUntilClosed(timeout: .seconds(2))
        #expect(early.bytes.isEmpty && !early.closed)
        first.close()
        let late = await third.readUntilClosed()
        #expect(RawResponse(late.bytes)?.status == 200)
    }

    @Test("timeouts and the cap are checked when given: out of range is a usage error naming the option")
    func limitsValidated() async throws {
        for (arguments, option) in [(["--header-timeout", "0"], "--header-timeout"), (["--body-timeout", "nan"], "--body-timeout"),
                                    (["--idle-timeout", "-1"], "--idle-timeout"), (["--send-timeout", "1e9"], "--send-timeout"),
                                    (["--max-connections", "0"], "--max-connections"), (["--db-wait", "0"], "--db-wait"),
                                    (["--db-wait", "nan"], "--db-wait")] {
            let result = try await GatehouseBinary.run(["serve", "--db", "/nonexistent/x.sqlite"] + arguments)
            #expect(result.status == 2, "\(arguments)")
            #expect(result.stderr.contains(option), "\(result.stderr)")
        }
    }
}
