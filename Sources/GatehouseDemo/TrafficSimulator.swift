import Foundation
import GatehouseCore
import Synchronization

/// Synthetic users driving the real HTTP API: API clients log in by magic link and refresh on a
/// schedule (some too often, and hit the refresh limit), some log out, browsers log in with
/// cookies and log in again (the session id is regenerated), one client replays an old refresh
/// token (reuse detected, family revoked), a payment webhook arrives twice, and now and then a
/// user asks for an export of their data.
public final class TrafficSimulator: Sendable {
    public struct Options: Sendable {
        public var base: String
        /// Requests per second, over every simulated client together.
        public var rate: Double
        public var webhookSecret: String
        public var cookieName: String

        public init(base: String, rate: Double, webhookSecret: String, cookieName: String) {
            self.base = base
            self.rate = rate
            self.webhookSecret = webhookSecret
            self.cookieName = cookieName
        }
    }

    /// An API client: its address, and its tokens (the previous refresh token kept for the replay).
    struct APIClient: Sendable {
        var email: String
        var ip: String
        var access: String
        var refresh: String
    }

    /// A refresh token that was rotated: what a thief would replay.
    struct RetiredToken: Sendable {
        var value: String
        var rotatedAt: Date
    }

    struct Browser: Sendable {
        var email: String
        var ip: String
        var cookie: String?
    }

    struct State: Sendable {
        var clients: [APIClient] = []
        var browsers: [Browser] = []
        var retired: [RetiredToken] = []
        var nextUser = 1
        var nextEvent = 1
    }

    public let stats = DemoStats()
    let options: Options
    private let client: DemoClient
    private let state = Mutex(State())
    static let maxInFlight = 24
    static let userAgent = "gatehouse-demo/1.0"

    public init(options: Options) {
        self.options = options
        client = DemoClient(base: options.base, pacer: Pacer(rate: options.rate), stats: stats)
    }

    /// Runs until the task is cancelled. The first actions are scripted so that every pane has
    /// something to show within seconds; then actions are drawn at random by weight.
    public func run() async {
        let opening: [Action] = [.apiLogin, .apiLogin, .browserLogin, .apiLogin, .refresh, .browserVisit, .apiLogin, .refreshBurst,
                                 .browserLogin, .webhookTwice, .startJob, .apiLogin, .refresh, .browserRelogin]
        await withTaskGroup(of: Void.self) { group in
            // The attack, early: once some token was rotated more than the reuse grace (10 s) ago.
            group.addTask {
                try? await Task.sleep(for: .seconds(12))
                if !Task.isCancelled { await self.replay() }
            }
            var inFlight = 1
            var step = 0
            while !Task.isCancelled {
                let action = step < opening.count ? opening[step] : Action.random()
                step += 1
                if inFlight >= Self.maxInFlight { await group.next(); inFlight -= 1 }
                group.addTask { await self.perform(action) }
                inFlight += 1
                // Actions queue at the pacer; starting them a little apart keeps the mix even.
                try? await Task.sleep(for: .milliseconds(Int(1000 / max(1, options.rate))))
            }
            group.cancelAll()
        }
        await client.shutdown()
    }

    enum Action: CaseIterable {
        case apiLogin, refresh, refreshBurst, me, logout, browserLogin, browserRelogin, browserVisit, replay, webhookTwice, startJob

        var weight: Int {
            switch self {
            case .apiLogin: 12
            case .refresh: 35
            case .refreshBurst: 2
            case .me: 15
            case .logout: 3
            case .browserLogin: 5
            case .browserRelogin: 4
            case .browserVisit: 12
            case .replay: 1
            case .webhookTwice: 1
            case .startJob: 1
            }
        }

        static func random() -> Action {
            var pick = Int.random(in: 0..<allCases.map(\.weight).reduce(0, +))
            for action in allCases {
                if pick < action.weight { return action }
                pick -= action.weight
            }
            return .refresh
        }
    }

    private func perform(_ action: Action) async {
        switch action {
        case .apiLogin: await apiLogin()
        case .refresh: await refresh(times: 1)
        case .refreshBurst: await refresh(times: 7)
        case .me: await me()
        case .logout: await logout()
        case .browserLogin: await browserLogin(existing: false)
        case .browserRelogin: await browserLogin(existing: true)
        case .browserVisit: await browserVisit()
        case .replay: await replay()
        case .webhookTwice: await webhookTwice()
        case .startJob: await startJob()
        }
    }

    // MARK: - Actions

    private func newUser(prefix: String) -> (email: String, ip: String) {
        let n = state.withLock { state in defer { state.nextUser += 1 }; return state.nextUser }
        return ("\(prefix)\(n)@demo.gatehouse.test", "10.\(n / 250 % 250).\(n % 250).\(prefix == "browser" ? 20 : 10)")
    }

    /// Magic link, then its dev token: the token the email would carry.
    private func magicToken(email: String, ip: String) async -> String? {
        let reply = await client.send("POST", "/api/v1/auth/magic-link", json: #"{"email":"\#(email)"}"#, ip: ip, headers: agent)
        return reply?.json["dev_token"] as? String
    }

    private var agent: [String: String] { ["User-Agent": Self.userAgent] }

    private func apiLogin() async {
        let (email, ip) = newUser(prefix: "user")
        guard let token = await magicToken(email: email, ip: ip),
              let reply = await client.send("POST", "/api/v1/auth/verify", json: #"{"token":"\#(token)"}"#, ip: ip, headers: agent),
              let access = reply.json["access_token"] as? String, let refresh = reply.json["refresh_token"] as? String else { return }
        state.withLock { $0.clients.append(APIClient(email: email, ip: ip, access: access, refresh: refresh)) }
        stats.record { $0.logins += 1 }
    }

    /// Takes a random API client out of the pool while it acts (two actions never share one).
    private func takeClient() -> APIClient? {
        state.withLock { state in
            guard !state.clients.isEmpty else { return nil }
            return state.clients.remove(at: Int.random(in: 0..<state.clients.count))
        }
    }

    private func giveBack(_ client: APIClient) { state.withLock { $0.clients.append(client) } }

    private func refresh(times: Int) async {
        guard var api = takeClient() else { return await apiLogin() }
        for _ in 0..<times {
            guard let reply = await client.send("POST", "/api/v1/auth/refresh", json: #"{"refresh_token":"\#(api.refresh)"}"#,
                                                ip: api.ip, headers: agent) else { break }
            if reply.status == 200, let access = reply.json["access_token"] as? String, let refresh = reply.json["refresh_token"] as? String {
                let old = api.refresh
                state.withLock { state in
                    state.retired.append(RetiredToken(value: old, rotatedAt: Date()))
                    if state.retired.count > 64 { state.retired.removeFirst() }
                }
                api.access = access
                api.refresh = refresh
                stats.record { $0.refreshes += 1 }
            } else if reply.status == 401 {
                return // its session ended (revoked by an operator, reuse detected…): this client is gone
            }
        }
        giveBack(api)
    }

    private func me() async {
        guard let api = takeClient() else { return }
        let reply = await client.send("GET", "/api/v1/auth/me", ip: api.ip, headers: agent.merging(["Authorization": "Bearer \(api.access)"]) { a, _ in a })
        if reply?.status != 401 { giveBack(api) }
    }

    private func logout() async {
        guard let api = takeClient() else { return }
        await client.send("POST", "/api/v1/auth/logout", json: "{}", ip: api.ip, headers: agent.merging(["Authorization": "Bearer \(api.access)"]) { a, _ in a })
        stats.record { $0.logouts += 1 }
    }

    /// Replays, from another address, a refresh token rotated more than the reuse grace (10 s)
    /// ago: reuse detection revokes its family and session, and its owner is logged out.
    private func replay() async {
        let stolen = state.withLock { state -> RetiredToken? in
            guard let index = state.retired.firstIndex(where: { Date().timeIntervalSince($0.rotatedAt) > 11 }) else { return nil }
            return state.retired.remove(at: index)
        }
        guard let stolen else { return await refresh(times: 1) }
        let reply = await client.send("POST", "/api/v1/auth/refresh", json: #"{"refresh_token":"\#(stolen.value)"}"#, ip: "203.0.113.66", headers: agent)
        if reply?.status == 401, reply?.json["reason"] as? String == "reused" { stats.record { $0.reuseDetected += 1 } }
    }

    private func browserLogin(existing: Bool) async {
        var browser: Browser
        if existing, let known = state.withLock({ state -> Browser? in
            guard let index = state.browsers.indices.randomElement() else { return nil }
            return state.browsers.remove(at: index)
        }) {
            browser = known
        } else {
            let (email, ip) = newUser(prefix: "browser")
            browser = Browser(email: email, ip: ip)
        }
        guard let token = await magicToken(email: browser.email, ip: browser.ip) else { return }
        var headers = ["User-Agent": "Mozilla/5.0 (demo browser)"]
        if let cookie = browser.cookie { headers["Cookie"] = "\(options.cookieName)=\(cookie)" }
        if let reply = await client.send("POST", "/session/login", json: #"{"token":"\#(token)"}"#, ip: browser.ip, headers: headers),
           let cookie = reply.cookie(options.cookieName) {
            browser.cookie = cookie
            stats.record { $0.logins += 1; $0.browserLogins += 1 }
        }
        state.withLock { $0.browsers.append(browser) }
    }

    private func browserVisit() async {
        guard let browser = state.withLock({ $0.browsers.randomElement() }), let cookie = browser.cookie else { return await browserLogin(existing: false) }
        await client.send("GET", "/session", ip: browser.ip, headers: ["User-Agent": "Mozilla/5.0 (demo browser)", "Cookie": "\(options.cookieName)=\(cookie)"])
    }

    /// The payment provider delivers one event twice (as providers do): one credit.
    private func webhookTwice() async {
        guard let api = state.withLock({ $0.clients.randomElement() }) else { return }
        let id = state.withLock { state in defer { state.nextEvent += 1 }; return state.nextEvent }
        let body = #"{"id":"evt_demo_\#(id)","type":"checkout.session.completed","data":{"object":{"amount_total":\#(500 * (id % 5 + 1)),"currency":"eur","payment_status":"paid","metadata":{"gatehouse_user":"\#(api.email)"}}}}"#
        for _ in 0..<2 {
            let signature = WebhookSignature(secret: options.webhookSecret).header(for: Data(body.utf8), at: Date())
            await client.send("POST", "/api/v1/payment/webhook", json: body, ip: "198.51.100.200", headers: ["Stripe-Signature": signature])
            stats.record { $0.webhooks += 1 }
        }
    }

    /// A user asks for an export of their own data (a document job the server's worker runs).
    private func startJob() async {
        guard let api = takeClient() else { return }
        let reply = await client.send("POST", "/api/v1/documents/jobs", json: #"{"kind":"user-export"}"#, ip: api.ip,
                                      headers: agent.merging(["Authorization": "Bearer \(api.access)"]) { a, _ in a })
        if reply?.status == 202 { stats.record { $0.jobs += 1 } }
        giveBack(api)
    }
}
