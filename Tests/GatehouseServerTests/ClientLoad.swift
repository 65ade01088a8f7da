import Foundation
import GatehouseTestSupport
import Synchronization

/// Client traffic against a deployment that runs until stopped and records every answer, so
/// that a test can check afterwards that each acknowledged (2xx) write is in the database, as
/// a crash test must: a login's refresh token, a webhook delivery's event id.
final class ClientLoad: Sendable {
    struct Answer: Sendable {
        enum Kind: Sendable { case login(refreshToken: String?), webhook(eventId: String) }
        var kind: Kind
        var node: Int
        /// The phase the test had set when the answer came (`advance()`).
        var phase: Int
        /// The HTTP status, or nil when no answer came (connection refused or reset, a timeout).
        var status: Int?
        var contentType: String?
        var retryAfter: String?
        var failure: String?
        /// A problem's detail (non-2xx answers).
        var detail: String?

        var acknowledged: Bool { status.map { (200..<300).contains($0) } ?? false }
    }

    private let answers = Mutex<[Answer]>([])
    private let phaseNumber = Atomic<Int>(0)
    private let stopping = Atomic<Bool>(false)
    /// Nodes taken out of rotation, one bit each (as a load balancer's health check would).
    private let excluded = Atomic<Int>(0)
    private let tasks = Mutex<[Task<Void, Never>]>([])

    /// Starts `clients` loops; loop c sends alternately a webhook delivery and a login, each
    /// to the next node in turn that is not `exclude`d.
    init(_ deployment: Deployment, clients: Int = 4, user: String) {
        for client in 0..<clients {
            let task = Task { [self] in
                var round = 0
                while !stopping.load(ordering: .relaxed) {
                    let count = deployment.nodes.count, out = excluded.load(ordering: .relaxed)
                    let node = (0..<count).map { (client + round + $0) % count }.first { out & (1 << $0) == 0 } ?? 0
                    if round % 2 == 0 {
                        let id = "evt_load_\(client)_\(round)"
                        await record(.webhook(eventId: id), node: node) { try await deployment.deliverCheckout(id: id, user: user, via: node) }
                    } else {
                        await login(deployment, email: "load\(client)-\(round)@example.com", node: node)
                    }
                    round += 1
                }
            }
            tasks.withLock { $0.append(task) }
        }
    }

    private func record(_ kind: Answer.Kind, node: Int, _ send: () async throws -> HTTPResult) async {
        var answer = Answer(kind: kind, node: node, phase: 0, status: nil)
        do {
            let result = try await send()
            answer.status = result.status
            answer.contentType = result.headers["content-type"]
            answer.retryAfter = result.headers["retry-after"]
            if !answer.acknowledged { answer.detail = result.json["detail"] as? String }
            if case .login = kind { answer.kind = .login(refreshToken: result.json["refresh_token"] as? String) }
        } catch {
            answer.failure = "\(error)"
        }
        answer.phase = phaseNumber.load(ordering: .relaxed)
        answers.withLock { $0.append(answer) }
    }

    /// A login's link request and its verification both go to `node`; only the verification's
    /// answer is recorded when the link request succeeded.
    private func login(_ deployment: Deployment, email: String, node: Int) async {
        let base = deployment.node(node)
        await record(.login(refreshToken: nil), node: node) {
            let link = try await HTTPRequester.shared.send("POST", base + "/api/v1/auth/magic-link", json: #"{"email":"\#(email)"}"#)
            guard let token = link.json["dev_token"] as? String else { return link }
            return try await HTTPRequester.shared.send("POST", base + "/api/v1/auth/verify", json: #"{"token":"\#(token)"}"#)
        }
    }

    /// Sends no more requests to `node` (a load balancer's health check took it out): an HTTP
    /// client waits for its connect timeout on a dead port, which a real client never sees.
    func exclude(node: Int) { excluded.bitwiseOr(1 << node, ordering: .relaxed) }

    /// Marks the answers that come from now on with the next phase number (before/during/after a fault).
    func advance() { phaseNumber.add(1, ordering: .relaxed) }

    var recorded: [Answer] { answers.withLock { $0 } }

    /// Waits (up to `timeout` seconds) until the answers satisfy `predicate`; returns whether they did.
    func waitUntil(timeout: Double = 120, _ predicate: ([Answer]) -> Bool) async -> Bool {
        let deadline = ContinuousClock.now + .seconds(timeout)
        while ContinuousClock.now < deadline {
            if predicate(recorded) { return true }
            try? await Task.sleep(for: .milliseconds(50))
        }
        return predicate(recorded)
    }

    /// Stops the loops and waits for their last requests.
    func stop() async {
        stopping.store(true, ordering: .relaxed)
        for task in tasks.withLock({ $0 }) { await task.value }
    }

    /// Stops the loops without waiting (for a `defer`: a test that failed half-way must not
    /// leave them sending to servers it stopped).
    func cancel() {
        stopping.store(true, ordering: .relaxed)
        for task in tasks.withLock({ $0 }) { task.cancel() }
    }
}
