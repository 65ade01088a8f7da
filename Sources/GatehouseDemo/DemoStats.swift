import Foundation
import Synchronization

/// What the simulator did, for the headless line a second and the summary at the end.
public final class DemoStats: Sendable {
    public struct Counts: Sendable, Equatable {
        public var requests = 0
        public var ok = 0
        public var clientErrors = 0
        public var serverErrors = 0
        public var failedConnections = 0
        public var rateLimited = 0
        /// API and browser logins together; `browserLogins` of them by cookie.
        public var logins = 0
        public var browserLogins = 0
        public var refreshes = 0
        public var logouts = 0
        public var reuseDetected = 0
        public var webhooks = 0
        public var jobs = 0
    }

    private let counts = Mutex(Counts())

    public var snapshot: Counts { counts.withLock { $0 } }

    func count(status: Int) {
        counts.withLock { counts in
            counts.requests += 1
            switch status {
            case 0: counts.failedConnections += 1
            case 200..<400: counts.ok += 1
            case 429: counts.clientErrors += 1; counts.rateLimited += 1
            case 400..<500: counts.clientErrors += 1
            default: counts.serverErrors += 1
            }
        }
    }

    func record(_ change: (inout Counts) -> Void) { counts.withLock { change(&$0) } }

    /// `12 s  requests 240 (2xx 221, 4xx 19, 5xx 0)  429 12  logins 31 …`
    public static func line(_ c: Counts, seconds: Int) -> String {
        "\(seconds) s  requests \(c.requests) (2xx \(c.ok), 4xx \(c.clientErrors), 5xx \(c.serverErrors))  429 \(c.rateLimited)  "
            + "logins \(c.logins) (browser \(c.browserLogins))  refreshes \(c.refreshes)  logouts \(c.logouts)  "
            + "reuse detected \(c.reuseDetected)  webhooks \(c.webhooks)  jobs \(c.jobs)"
            + (c.failedConnections > 0 ? "  no answer \(c.failedConnections)" : "")
    }
}
