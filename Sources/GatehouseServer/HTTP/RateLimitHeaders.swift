import GatehouseCore
import HTTPTypes

/// The IETF rate-limit fields (draft-ietf-httpapi-ratelimit-headers) and `Retry-After`:
///
///     RateLimit-Policy: "refresh";q=5;w=60
///     RateLimit: "refresh";r=4;t=12
///
/// `q` is the quota per window `w` seconds, `r` what remains now, `t` seconds until the
/// bucket is full again.
enum RateLimitHeaders {
    static let policyName = HTTPField.Name("RateLimit-Policy")!
    static let stateName = HTTPField.Name("RateLimit")!

    static func fields(for decision: RateLimitDecision) -> HTTPFields {
        var fields = HTTPFields()
        apply(decision, to: &fields)
        return fields
    }

    static func apply(_ decision: RateLimitDecision?, to fields: inout HTTPFields) {
        guard let decision else { return }
        let name = decision.policy.name
        fields[policyName] = "\"\(name)\";q=\(decision.policy.limit);w=\(Int(decision.policy.period.rounded(.up)))"
        fields[stateName] = "\"\(name)\";r=\(decision.remaining);t=\(Int(decision.resetAfter.rounded(.up)))"
        if !decision.allowed {
            fields[.retryAfter] = String(max(1, Int(decision.retryAfter.rounded(.up))))
        }
    }
}
