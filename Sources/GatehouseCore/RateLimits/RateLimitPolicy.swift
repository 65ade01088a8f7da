import Foundation

/// "`limit` requests per `period`", with a name that configuration and bucket keys refer to.
public struct RateLimitPolicy: Sendable, Equatable, Codable {
    public var name: String
    public var limit: Int
    public var period: TimeInterval

    public init(name: String, limit: Int, period: TimeInterval) {
        precondition(limit > 0 && period > 0, "a rate-limit policy needs a positive limit and period")
        self.name = name
        self.limit = limit
        self.period = period
    }

    /// Parses `5/minute`, `20/hour`, `100/second`, `1000/day`, or `10/30s` style rates.
    public init(name: String, rate: String) throws(RateLimitPolicyError) {
        let parts = rate.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, let limit = Int(parts[0].trimmingCharacters(in: .whitespaces)), limit > 0 else {
            throw .invalid(rate: rate, why: "expected COUNT/PERIOD such as 5/minute")
        }
        let unit = parts[1].trimmingCharacters(in: .whitespaces).lowercased()
        let period: TimeInterval
        switch unit {
        case "s", "sec", "second": period = 1
        case "m", "min", "minute": period = 60
        case "h", "hour": period = 3600
        case "d", "day": period = 86400
        default:
            guard unit.hasSuffix("s"), let seconds = Double(unit.dropLast()), seconds > 0 else {
                throw .invalid(rate: rate, why: "unknown period '\(unit)' (second, minute, hour, day or Ns)")
            }
            period = seconds
        }
        self.init(name: name, limit: limit, period: period)
    }

    /// `5/minute` when the period is a named unit, `5/90s` otherwise.
    public var rateDescription: String {
        switch period {
        case 1: "\(limit)/second"
        case 60: "\(limit)/minute"
        case 3600: "\(limit)/hour"
        case 86400: "\(limit)/day"
        default: "\(limit)/\(period.formatted())s"
        }
    }

    /// The time one request "costs" in GCRA.
    var emissionInterval: TimeInterval { period / Double(limit) }

    /// Requests still allowed at `now` for a bucket whose theoretical arrival time is `tat`.
    func remaining(tat: Double, now: Double) -> Int {
        let backlog = max(0, tat - now)
        return max(0, min(limit, Int(((period - backlog) / emissionInterval + 1e-9).rounded(.down))))
    }
}

public enum RateLimitPolicyError: Error, Equatable, CustomStringConvertible {
    case invalid(rate: String, why: String)
    case unknownPolicy(String)

    public var description: String {
        switch self {
        case .invalid(let rate, let why): "invalid rate '\(rate)': \(why)"
        case .unknownPolicy(let name): "unknown rate-limit policy '\(name)'"
        }
    }
}

/// The named policies the services use. Every one can be overridden by configuration.
public struct RateLimitPolicies: Sendable, Equatable {
    /// Refresh-token rotations per refresh family (one API login); 5/minute is the value of the
    /// system Gatehouse replaced. Per family, not per address: users behind one NAT or proxy
    /// share an address and must not share a budget.
    public var refresh = RateLimitPolicy(name: "refresh", limit: 5, period: 60)
    /// Refresh requests per client address, whatever token they carry: a loose cap against
    /// one address spraying guessed or stolen tokens (each costs a lookup), far above what a
    /// NAT full of honest clients sends.
    public var refreshPerAddress = RateLimitPolicy(name: "refresh-ip", limit: 600, period: 60)
    public var magicLinkEmail = RateLimitPolicy(name: "magic-link-email", limit: 5, period: 3600)
    public var magicLinkIP = RateLimitPolicy(name: "magic-link-ip", limit: 20, period: 3600)
    public var verify = RateLimitPolicy(name: "verify", limit: 10, period: 60)
    /// Audit rows for failures a client can cause at will, per client and in total.
    public var auditFailuresPerClient = RateLimitPolicy(name: "audit-failures", limit: 30, period: 60)
    public var auditFailuresTotal = RateLimitPolicy(name: "audit-failures-total", limit: 600, period: 60)

    public init() {}

    /// The throttle for audit rows a client can cause at will: per client first, then global.
    public var auditFailures: [RateLimitPolicy] { [auditFailuresPerClient, auditFailuresTotal] }

    /// Replaces the policy called `name`, as `--rate-limit refresh=100/minute` asks.
    public mutating func override(_ name: String, rate: String) throws(RateLimitPolicyError) {
        let policy = try RateLimitPolicy(name: name, rate: rate)
        switch name {
        case refresh.name: refresh = policy
        case refreshPerAddress.name: refreshPerAddress = policy
        case magicLinkEmail.name: magicLinkEmail = policy
        case magicLinkIP.name: magicLinkIP = policy
        case verify.name: verify = policy
        case auditFailuresPerClient.name: auditFailuresPerClient = policy
        case auditFailuresTotal.name: auditFailuresTotal = policy
        default: throw .unknownPolicy(name)
        }
    }
}
