import Foundation
import GatehouseCore
import GatehouseTestSupport
import Synchronization

/// Several `gatehouse serve` nodes (each on a port of its own, as behind a load balancer) and
/// `gatehouse worker` processes on one database, as a multi-node deployment runs them; plus
/// the client side of the proofs: logins, webhook deliveries and requests spread over the nodes.
final class Deployment: @unchecked Sendable {
    static let webhookSecret = "whsec_multinode_test"
    /// Generous limits except where a test sets its own, so that only the rule under test refuses.
    static let openLimits = ["refresh=100000/minute", "refresh-ip=100000/minute", "verify=100000/minute",
                             "magic-link-ip=100000/hour", "magic-link-email=100000/hour"]

    let db: String
    let documents: String
    private(set) var nodes: [ServeProcessTests.RunningServer] = []
    private(set) var workers: [Subprocess] = []
    private let stopped = Atomic<Bool>(false)

    /// Starts `nodes` serve processes (no job slots of their own: jobs are the workers') and
    /// `workers` worker processes. `limits` override `openLimits` by name. `dbWait`: each node's
    /// `--db-wait`; nil for the product's default (a test of the 503s while the server is away).
    init(db: String, in directory: TemporaryDirectory, nodes nodeCount: Int = 2, workers workerCount: Int = 0,
         limits: [String] = [], workerArguments: [String] = [], dbWait: Int? = 300) async throws {
        self.db = db
        documents = directory.path("documents")
        var rates: [String: String] = [:]
        for rate in Self.openLimits + limits {
            let parts = rate.split(separator: "=", maxSplits: 1)
            rates[String(parts[0])] = String(parts[1])
        }
        // The proofs are about races, not latency: on a loaded machine 25 requests a node can
        // queue for its 8 pooled connections past the default 5 s wait (a 503).
        let serve = ["--dev", "--workers", "0", "--refresh-reuse-grace", "60", "--log-level", "warning"]
            + (dbWait.map { ["--db-wait", "\($0)"] } ?? [])
            + rates.sorted { $0.key < $1.key }.flatMap { ["--rate-limit", "\($0.key)=\($0.value)"] }
        do {
            for _ in 0..<nodeCount {
                nodes.append(try await ServeProcessTests.start(db: db, serve, environment: ["GATEHOUSE_WEBHOOK_SECRET": Self.webhookSecret]))
            }
            for _ in 0..<workerCount { try startWorker(workerArguments) }
        } catch {
            stop()
            throw error
        }
    }

    @discardableResult
    func startWorker(_ arguments: [String] = []) throws -> Subprocess {
        let worker = try GatehouseBinary.start(["worker", "--db", db, "--data-dir", documents, "--poll", "0.05"] + arguments)
        workers.append(worker)
        return worker
    }

    /// The base URL of node `index % nodes.count`: request i goes to node i mod n.
    func node(_ index: Int) -> String { nodes[index % nodes.count].base }

    /// Stops every process (SIGTERM), each reaped on a thread of its own: called from a
    /// `defer`, it must not block the test process's cooperative threads while they exit.
    /// Once: a test's `defer` and the deinit both call it (the process list stays, for clients
    /// still reading it).
    func stop() {
        guard !stopped.exchange(true, ordering: .relaxed) else { return }
        for process in nodes.map(\.process) + workers { process.stop() }
    }

    deinit { stop() }

    // MARK: - Client side

    struct Tokens { var refresh: String; var access: String }

    /// A dev-mode magic-link login: the link requested through one node, verified through the next.
    func login(_ email: String, via index: Int = 0) async throws -> Tokens {
        let http = HTTPRequester.shared
        let link = try await http.send("POST", node(index) + "/api/v1/auth/magic-link", json: #"{"email":"\#(email)"}"#)
        guard let token = link.json["dev_token"] as? String else { throw DeploymentError.unexpected("magic link", link) }
        let verified = try await http.send("POST", node(index + 1) + "/api/v1/auth/verify", json: #"{"token":"\#(token)"}"#)
        guard let refresh = verified.json["refresh_token"] as? String, let access = verified.json["access_token"] as? String else {
            throw DeploymentError.unexpected("verify", verified)
        }
        return Tokens(refresh: refresh, access: access)
    }

    func refresh(_ token: String, via index: Int) async throws -> HTTPResult {
        try await HTTPRequester.shared.send("POST", node(index) + "/api/v1/auth/refresh", json: #"{"refresh_token":"\#(token)"}"#)
    }

    /// A Stripe-style `checkout.session.completed` delivery, signed now with the nodes' secret.
    func deliverCheckout(id: String, user: String, amount: Int = 100, via index: Int) async throws -> HTTPResult {
        let body = #"{"id":"\#(id)","type":"checkout.session.completed","data":{"object":{"amount_total":\#(amount),"currency":"usd","metadata":{"gatehouse_user":"\#(user)"}}}}"#
        let signature = WebhookSignature(secret: Self.webhookSecret).header(for: Data(body.utf8), at: Date())
        return try await HTTPRequester.shared.send("POST", node(index) + "/api/v1/payment/webhook", json: body,
                                                   headers: ["Stripe-Signature": signature])
    }

    /// `count` requests at once, request i through node i mod n.
    func concurrently(_ count: Int, _ request: @escaping @Sendable (Int) async throws -> HTTPResult) async throws -> [HTTPResult] {
        try await withThrowingTaskGroup(of: HTTPResult.self) { group in
            for index in 0..<count { group.addTask { try await request(index) } }
            return try await group.reduce(into: []) { $0.append($1) }
        }
    }

    enum DeploymentError: Error { case unexpected(String, HTTPResult) }
}
