import Foundation
import GatehouseCore
import GatehouseTestSupport
import Testing

/// The promises of one `serve` process, kept by two behind a load balancer: real `serve` and
/// `worker` processes on one database (a throwaway PostgreSQL server in the PostgreSQL run, one
/// SQLite file otherwise), every check's requests spread over both nodes. One test at a time:
/// each loads the machine on its own.
@Suite("Many nodes on one database (real processes)", .serialized)
struct MultiNodeTests {
    static let operatorActor = Actor.operator(OperatorIdentity(name: "oncall", sshClient: nil, via: "cli"))

    /// The database as the test process sees it, for checks after the fact.
    static func open(_ db: String) throws -> Gatehouse { try Gatehouse.open(path: db, options: TestEngine.options()) }

    static func sessionHandle(_ deployment: Deployment, access: String, via index: Int = 0) async throws -> String {
        let me = try await HTTPRequester.shared.send("GET", deployment.node(index) + "/api/v1/auth/me", headers: ["Authorization": "Bearer \(access)"])
        return try #require((me.json["session"] as? [String: Any])?["handle"] as? String, "\(me.text)")
    }

    @Test("one refresh token presented 50 times at once over both nodes: one rotation, every answer the one successor, the family lives on")
    func refreshRace() async throws {
        let directory = try TemporaryDirectory()
        let deployment = try await Deployment(db: try directory.database("race"), in: directory)
        defer { deployment.stop() }
        let tokens = try await deployment.login("racer@example.com")
        let answers = try await deployment.concurrently(50) { try await deployment.refresh(tokens.refresh, via: $0) }

        // Within the reuse grace a loser gets the winner's successor (RefreshTokenService); no
        // limit is low enough to refuse here, so every answer is that successor.
        #expect(answers.map(\.status) == Array(repeating: 200, count: 50), "\(Set(answers.map(\.text)))")
        let successors = Set(answers.compactMap { $0.json["refresh_token"] as? String })
        #expect(successors.count == 1)
        let handle = try await Self.sessionHandle(deployment, access: tokens.access)
        let gatehouse = try Self.open(deployment.db)
        let actions = try await gatehouse.audit.events(targetType: "session", targetId: handle).map(\.action)
        #expect(actions.filter { $0 == "refresh.rotated" }.count == 1, "\(actions)")
        #expect(!actions.contains("refresh.reuse_detected"))
        // The family survives: the successor rotates on either node, and the session is active.
        let next = try await deployment.refresh(try #require(successors.first), via: 1)
        #expect(next.status == 200, "\(next.text)")
        #expect(try await gatehouse.sessions.summary(handle: handle)?.session.state == .active)
    }

    @Test("one rate-limit bucket hammered from both nodes: exactly the policy's allowance passes")
    func sharedBucket() async throws {
        let directory = try TemporaryDirectory()
        let deployment = try await Deployment(db: try directory.database("bucket"), in: directory, limits: ["magic-link-email=7/hour"])
        defer { deployment.stop() }
        let answers = try await deployment.concurrently(40) { index in
            try await HTTPRequester.shared.send("POST", deployment.node(index) + "/api/v1/auth/magic-link", json: #"{"email":"hammer@example.com"}"#)
        }
        #expect(answers.filter { $0.status == 202 }.count == 7, "\(answers.map(\.status))")
        #expect(answers.filter { $0.status == 429 }.count == 33)
        #expect(answers.allSatisfy { $0.status == 202 || $0.headers["retry-after"] != nil })
    }

    @Test("50 deliveries of one webhook event over both nodes: one effect, every delivery recorded and answered 2xx")
    func webhookDuplicates() async throws {
        let directory = try TemporaryDirectory()
        let deployment = try await Deployment(db: try directory.database("webhook"), in: directory)
        defer { deployment.stop() }
        let tokens = try await deployment.login("payer@example.com")
        let answers = try await deployment.concurrently(50) {
            try await deployment.deliverCheckout(id: "evt_split", user: "payer@example.com", amount: 1500, via: $0)
        }
        #expect(answers.allSatisfy { (200..<300).contains($0.status) }, "\(answers.map(\.status))")
        #expect(answers.filter { $0.json["duplicate"] as? Bool == false }.count == 1)
        let me = try await HTTPRequester.shared.send("GET", deployment.node(1) + "/api/v1/auth/me", headers: ["Authorization": "Bearer \(tokens.access)"])
        #expect((me.json["user"] as? [String: Any])?["credits"] as? Int == 1500, "\(me.text)")
        let gatehouse = try Self.open(deployment.db)
        #expect(try await gatehouse.payments.deliveries(eventId: "evt_split") == 50)
        let credited = try await gatehouse.audit.tail(limit: 1000).filter { $0.action == "payment.credited" }
        #expect(credited.count == 1)
    }

    @Test("audit appends from both nodes under load: one chain, `audit verify` intact, no fork")
    func auditUnderLoad() async throws {
        let directory = try TemporaryDirectory()
        let deployment = try await Deployment(db: try directory.database("chain"), in: directory)
        defer { deployment.stop() }
        let load = ClientLoad(deployment, clients: 6, user: "nobody@example.com")
        defer { load.cancel() }
        let busy = await load.waitUntil { answers in answers.filter(\.acknowledged).count >= 120 }
        await load.stop()
        #expect(busy, "the load never reached 120 acknowledged writes: \(load.recorded.prefix(5))")
        #expect(Set(load.recorded.map(\.node)) == [0, 1])

        let verify = try await GatehouseBinary.run(["audit", "verify", "--db", deployment.db])
        #expect(verify.status == 0, "\(verify.stdout)\(verify.stderr)")
        #expect(verify.stdout.contains("intact"), "\(verify.stdout)")
        let verification = try await Self.open(deployment.db).audit.verify()
        #expect(verification.isIntact, "\(verification.problem ?? "")")
        // Each acknowledged login wrote at least user, link, session and token rows to the chain.
        #expect(verification.checked >= load.recorded.filter(\.acknowledged).count, "\(verification.checked)")
    }

    @Test("workers beside two nodes never share a job; a worker killed with SIGKILL mid-job: the other takes the job over after its lease")
    func workers() async throws {
        let directory = try TemporaryDirectory()
        let db = try directory.database("workers")
        let deployment = try await Deployment(db: db, in: directory, workers: 2, workerArguments: ["--concurrency", "3"])
        defer { deployment.stop() }
        // Twenty users each ask a node for their export.
        var ids: [Int64] = []
        for index in 0..<20 {
            let tokens = try await deployment.login("export\(index)@example.com", via: index)
            let started = try await HTTPRequester.shared.send("POST", deployment.node(index) + "/api/v1/documents/jobs",
                                                              json: #"{"kind":"user-export"}"#, headers: ["Authorization": "Bearer \(tokens.access)"])
            ids.append(try #require(started.json["id"] as? Int64 ?? (started.json["id"] as? Int).map(Int64.init), "\(started.text)"))
        }
        let gatehouse = try Self.open(db)
        _ = try await eventually {
            for id in ids where try await gatehouse.jobs.find(id: id)?.job.state != .succeeded { return false }
            return true
        }
        for id in ids {
            let job = try #require(try await gatehouse.jobs.find(id: id)?.job)
            #expect(job.state == .succeeded && job.attempts == 1, "job \(id): \(job.state) after \(job.attempts)")
            let started = try await gatehouse.audit.events(targetType: "job", targetId: String(id)).filter { $0.action == "job.started" }
            #expect(started.count == 1, "job \(id) started \(started.count) times")
        }

        // A long job (an audit report over 150,000 events), a short lease; the worker holding it dies.
        try await offPool { try SyntheticData.seed(.init(users: 1, sessions: 0, auditEvents: 150_000), into: gatehouse.database) }
        for worker in deployment.workers {
            worker.terminate()
            _ = await worker.exit()
        }
        // A lease of 10 s, not 2: on a loaded machine a live worker's heartbeat (every third of
        // the lease) can run late by more than a 2 s lease allows, and the test is about a dead one.
        let lease = ["--lease", "10", "--concurrency", "1"]
        let first = try deployment.startWorker(lease), second = try deployment.startWorker(lease)
        let id = try await gatehouse.jobs.enqueue(
            JobRequest(kind: DocumentKinds.auditReport, arguments: ["from": "2000-01-01", "to": "2100-01-01"]), by: Self.operatorActor).job.id
        var holder: Subprocess?
        _ = try await eventually(every: .milliseconds(10)) {
            if let job = try await gatehouse.jobs.find(id: id)?.job, job.progress >= 3, let owner = job.leaseOwner {
                holder = [first, second].first { owner.contains(":\($0.pid):") }
            }
            return holder != nil
        }
        let doomed = try #require(holder, "no worker took the report")
        doomed.signal(SIGKILL)
        _ = await doomed.exit()
        _ = try await eventually { try await gatehouse.jobs.find(id: id)?.job.state == .succeeded }
        let job = try #require(try await gatehouse.jobs.find(id: id)?.job)
        // Two runs at least: a starved heartbeat may let the lease lapse once more, which is the rule too.
        #expect(job.state == .succeeded && job.attempts >= 2, "\(job.state) after \(job.attempts)")
        let actions = try await gatehouse.audit.events(targetType: "job", targetId: String(id)).map(\.action)
        #expect(actions.contains("job.lease_expired") && actions.filter { $0 == "job.started" }.count == job.attempts, "\(actions)")
    }

    @Test("a node killed with SIGKILL under load: every write either node acknowledged is in the database")
    func nodeKilled() async throws {
        let directory = try TemporaryDirectory()
        let deployment = try await Deployment(db: try directory.database("kill"), in: directory)
        defer { deployment.stop() }
        _ = try await deployment.login("payer@example.com")
        let load = ClientLoad(deployment, clients: 4, user: "payer@example.com")
        defer { load.cancel() }
        let warmed = await load.waitUntil { $0.filter { $0.acknowledged && $0.node == 0 }.count >= 20 }
        deployment.nodes[0].process.signal(SIGKILL)
        _ = await deployment.nodes[0].process.exit()
        load.exclude(node: 0)
        load.advance()
        let survived = await load.waitUntil { $0.filter { $0.acknowledged && $0.phase == 1 }.count >= 40 }
        await load.stop()
        #expect(warmed && survived, "acknowledged before: \(load.recorded.filter { $0.phase == 0 && $0.acknowledged }.count), after: \(load.recorded.filter { $0.phase == 1 && $0.acknowledged }.count)")
        // Requests in flight to node 0 when it died have no answer; node 1 answers everything.
        #expect(load.recorded.filter { $0.phase == 1 && $0.node == 1 }.allSatisfy { $0.acknowledged })

        try await Self.checkAcknowledged(load.recorded, in: deployment.db)
    }

    /// Every acknowledged answer's write is in the database: a login's refresh token exists, a
    /// delivery's event is in the ledger.
    static func checkAcknowledged(_ answers: [ClientLoad.Answer], in db: String) async throws {
        let gatehouse = try open(db)
        var checked = 0
        for answer in answers where answer.acknowledged {
            switch answer.kind {
            case .webhook(let id):
                #expect(try await gatehouse.payments.event(id: id) != nil, "acknowledged delivery \(id) is missing")
            case .login(let token):
                let token = try #require(token)
                #expect((try? await gatehouse.refreshTokens.find(token)) != nil, "an acknowledged login's refresh token is missing")
            }
            checked += 1
        }
        #expect(checked > 0)
        let verification = try await gatehouse.audit.verify()
        #expect(verification.isIntact, "\(verification.problem ?? "")")
    }

    @Test("PostgreSQL restarted under load: both nodes answer 503 problems with Retry-After meanwhile (never a 500, never a hang), recover by themselves, lose nothing acknowledged",
          .enabled(if: PostgresCluster.testsRun, "skipped: \(PostgresCluster.unavailableReason ?? "")"))
    func postgresRestart() async throws {
        let cluster = try await PostgresCluster.start()
        defer { cluster.stop() }
        let directory = try TemporaryDirectory()
        let db = cluster.url()
        #expect(try await GatehouseBinary.run(["init", "--db", db]).status == 0)
        let deployment = try await Deployment(db: db, in: directory, dbWait: nil)
        defer { deployment.stop() }
        _ = try await deployment.login("payer@example.com")
        let load = ClientLoad(deployment, clients: 4, user: "payer@example.com")
        defer { load.cancel() }
        let warmed = await load.waitUntil { $0.filter(\.acknowledged).count >= 20 }

        try await cluster.pause()
        load.advance()
        let refused = await load.waitUntil { answers in
            [0, 1].allSatisfy { node in answers.contains { $0.phase == 1 && $0.node == node && $0.status == 503 } }
        }
        try await cluster.resume()
        load.advance()
        let recovered = await load.waitUntil { answers in
            [0, 1].allSatisfy { node in answers.filter { $0.phase == 2 && $0.node == node && $0.acknowledged }.count >= 5 }
        }
        await load.stop()
        #expect(warmed && refused && recovered, "warmed \(warmed), 503s on both \(refused), recovered \(recovered)")

        let answers = load.recorded
        #expect(answers.allSatisfy { $0.failure == nil } as Bool, "\(answers.compactMap(\.failure).prefix(3))")
        let unexpected = answers.filter { !$0.acknowledged && $0.status != 503 }
        #expect(unexpected.isEmpty, "\(unexpected.prefix(3))")
        #expect(answers.filter { $0.status == 503 }.allSatisfy { $0.contentType == "application/problem+json" && $0.retryAfter != nil })
        try await Self.checkAcknowledged(answers, in: db)
    }

    @Test("a console on the same database shows a login made through either node (PostgreSQL: pushed by NOTIFY, no tick needed)",
          .enabled(if: TmuxSession.isAvailable, "tmux is missing"))
    func consoleSeesBothNodes() async throws {
        let directory = try TemporaryDirectory()
        let deployment = try await Deployment(db: try directory.database("console"), in: directory)
        defer { deployment.stop() }
        _ = try await deployment.login("first@example.com")
        // On PostgreSQL the next tick is an hour away: only the LISTEN connection can bring a row.
        let refresh = TestEngine.current == .postgres ? "3600" : "0.25"
        let command = "env -u NO_COLOR LANG=C.UTF-8 TERM=xterm-256color \(TmuxSession.quote(GatehouseBinary.url.path)) console --db "
            + "\(TmuxSession.quote(deployment.db)) --refresh \(refresh); echo EXIT=$?; sleep 600"
        let tmux = try TmuxSession(socket: directory.path("tmux.sock"), width: 120, height: 30, command: command)
        #expect(await tmux.waitFor("first@example.com").0)
        for node in [0, 1] {
            _ = try await deployment.login("node\(node)@example.com", via: node)
            let (seen, screen) = await tmux.waitFor("node\(node)@example.com")
            #expect(seen, "\(screen)")
        }
        try tmux.send("q")
    }
}
