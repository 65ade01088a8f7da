import Foundation

/// Reads one session's evidence and names why it stopped working. The rules, in order:
/// an explicit end (reuse detection, an operator, the user) is the cause; otherwise the last
/// client-side symptom (a refused refresh the client never retried, a rotated or foreign cookie)
/// explains the logout even when the session then expired idle; otherwise the expiry itself.
struct SessionStoryteller {
    let summary: SessionSummary
    let grace: TimeInterval
    let now: Date

    private var session: Session { summary.session }

    func tell(in tx: any SQLTransaction) throws -> SessionStory {
        let events = try tx.fetchAll(AuditEvent.self, """
            SELECT * FROM audit_events WHERE target_type = 'session' AND target_id = ? ORDER BY seq LIMIT 2000
            """, [session.handle])
        let foreign = session.kind == .web ? try foreignCookies(after: events.last?.seq ?? 0, in: tx) : []
        let verdict = judge(events, foreign: foreign)
        let evidence = Set(verdict.evidence)
        var timeline = (events + foreign).map { Self.entry($0, evidence: evidence.contains($0.seq)) }
        if let expiry = derivedExpiry(events) { timeline.append(expiry) }
        timeline.sort { ($0.at, $0.seq ?? .max) < ($1.at, $1.seq ?? .max) }
        return SessionStory(handle: session.handle, email: summary.email, kind: session.kind, state: session.effectiveState(at: now),
                            createdAt: session.createdAt, lastSeenAt: session.lastSeenAt, verdict: verdict, timeline: timeline)
    }

    // MARK: - Rules

    private func judge(_ events: [AuditEvent], foreign: [AuditEvent]) -> Verdict {
        let ended = events.last { ["session.revoked", "session.logged_out", "session.expired"].contains($0.action) }
        switch session.state {
        case .revoked where session.endReason == "refresh_reuse":
            return reuse(events, ended: ended)
        case .revoked:
            let byOperator = session.endedBy?.hasPrefix("operator:") == true
            return Verdict(cause: byOperator ? .revokedByOperator : .revoked, at: session.endedAt,
                           summary: "revoked\(session.endedBy.map { " by \($0)" } ?? "")\(at(session.endedAt))\(session.endReason.map { " (reason: \($0))" } ?? "")",
                           hint: byOperator ? ended?.detail("ssh_client").map { "The operator connected from \($0)." } : nil,
                           evidence: ended.map { [$0.seq] } ?? [])
        case .loggedOut:
            return Verdict(cause: .loggedOutByUser, at: session.endedAt,
                           summary: "the user logged out\(at(session.endedAt))\(ended?.ip.map { " from \($0)" } ?? "")",
                           hint: nil, evidence: ended.map { [$0.seq] } ?? [])
        case .active, .expired:
            if let verdict = operatorRevokedTokens(events) ?? rateLimitedRefresh(events) ?? cookieSymptom(events, foreign: foreign) {
                return verdict
            }
            return expiry(ended)
        }
    }

    private func reuse(_ events: [AuditEvent], ended: AuditEvent?) -> Verdict {
        guard let detected = events.last(where: { $0.action == "refresh.reuse_detected" }) else {
            return Verdict(cause: .refreshTokenReuse, at: session.endedAt, summary: "revoked by reuse detection\(at(session.endedAt))",
                           hint: nil, evidence: ended.map { [$0.seq] } ?? [])
        }
        let token = detected.detail("token")
        let rotation = token.flatMap { token in events.last { $0.action == "refresh.rotated" && $0.detail("token") == token } }
        let after = detected.detail("seconds_after_rotation").map { "\(Self.seconds($0)) s after it was rotated" } ?? "after it was rotated"
        return Verdict(
            cause: .refreshTokenReuse, at: detected.at,
            summary: "\(token.map { "refresh token \($0)" } ?? "a refresh token") was presented again \(after)\(detected.ip.map { ", from \($0)" } ?? ""): reuse detection revoked the family and the session",
            hint: "Two clients used one refresh token (a copied token, a retry after a lost response outside the \(Int(grace)) s window), or it leaked."
                + (rotation.map { " The rotation it replayed is #\($0.seq)." } ?? ""),
            evidence: [rotation?.seq, detected.seq, ended?.seq].compactMap { $0 })
    }

    /// An operator revoked the session's refresh token or family while the session stayed: the
    /// API client is logged out at its next refresh.
    private func operatorRevokedTokens(_ events: [AuditEvent]) -> Verdict? {
        guard session.kind == .api,
              let revoked = events.last(where: { ($0.action == "refresh_family.revoked" || $0.action == "refresh_token.revoked") && $0.actorType == "operator" }),
              !events.contains(where: { $0.seq > revoked.seq && $0.action == "refresh.rotated" }) else { return nil }
        return Verdict(cause: .revokedByOperator, at: revoked.at,
                       summary: "\(revoked.action == "refresh_family.revoked" ? "its refresh family" : "its refresh token") was revoked by operator\(revoked.actorId.map { ":\($0)" } ?? "") at \(time(revoked.at)); the next refresh failed",
                       hint: nil, evidence: [revoked.seq])
    }

    /// The last refresh was refused for the rate limit and none succeeded after it.
    private func rateLimitedRefresh(_ events: [AuditEvent]) -> Verdict? {
        guard session.kind == .api, let limited = events.last(where: { $0.action == "refresh.rate_limited" }),
              !events.contains(where: { $0.seq > limited.seq && $0.action == "refresh.rotated" }) else { return nil }
        let all = events.filter { $0.action == "refresh.rate_limited" && $0.seq > (events.last { $0.action == "refresh.rotated" }?.seq ?? 0) }
        return Verdict(
            cause: .rateLimitedRefresh, at: limited.at,
            summary: "the refresh at \(time(limited.at)) was refused with 429 (\(limited.detail("policy") ?? "rate limit"))\(all.count > 1 ? ", \(all.count) times" : "") and no refresh succeeded after it: the client treated the 429 as a logout",
            hint: limited.detail("policy_name") == "refresh-ip"
                ? "The token stayed valid. The limit was the address's (refresh-ip, shared by every client behind that address): a client should wait for Retry-After and refresh again; if many honest clients share the address, raise it (serve --rate-limit refresh-ip=N/minute)."
                : "The token stayed valid: a client should wait for Retry-After and refresh again. The limit is per refresh family (this login's own budget, not shared with other users); if it is too tight for real clients, raise it (serve --rate-limit refresh=N/minute).",
            evidence: all.map(\.seq))
    }

    /// A browser symptom: its cookie was the one replaced at a regeneration (presented after the
    /// grace period), or another app's cookie of the same name replaced ours.
    private func cookieSymptom(_ events: [AuditEvent], foreign: [AuditEvent]) -> Verdict? {
        let rotated = events.last { $0.action == "session.lookup_failed" && $0.reason == CredentialFailure.rotated.rawValue }
        if let rotated, rotated.seq > (foreign.last?.seq ?? 0) {
            let regeneration = events.last { $0.action == "session.regenerated" && $0.detail("previous_secret") == rotated.detail("secret") }
            // The regeneration's row names the time; a refusal recorded since also carries it.
            let replacedAt = regeneration?.at ?? rotated.detail("superseded_at").flatMap(Timestamp.parse)
            let replaced = replacedAt.map {
                "the regeneration at \(time($0)) replaced, \(Int(rotated.at.timeIntervalSince($0))) s after it was replaced"
            } ?? "a regeneration replaced (its time is not in the evidence)"
            return Verdict(
                cause: .rotatedCookieAfterGrace, at: rotated.at,
                summary: "the browser sent the cookie \(rotated.detail("secret").map { "\($0) " } ?? "")that \(replaced) (grace \(Int(grace)) s)",
                hint: "The session itself is fine: a tab or client kept the old cookie instead of the one in the login response's Set-Cookie. Regeneration on login is what stops session fixation; keep it.",
                evidence: [regeneration?.seq, rotated.seq].compactMap { $0 })
        }
        guard let first = foreign.first else { return nil }
        let name = first.detail("cookie_name").map { "'\($0)' " } ?? ""
        return Verdict(
            cause: .foreignCookie, at: first.at,
            summary: "after the last good request (\(time(session.lastSeenAt))) the same browser sent a \(name)cookie this server never issued, \(foreign.count)× from \(time(first.at))",
            hint: "Another app on this host uses the same cookie name and overwrote this one: cookies are not isolated by port (RFC 6265 §8.5). Give each app its own name (serve --cookie-name).",
            evidence: foreign.map(\.seq))
    }

    private func expiry(_ ended: AuditEvent?) -> Verdict {
        let state = session.effectiveState(at: now)
        guard state == .expired else {
            return Verdict(cause: .notLoggedOut, at: nil,
                           summary: "not logged out: active, last request at \(time(session.lastSeenAt)), idle expiry at \(time(session.idleExpiresAt))",
                           hint: session.kind == .web ? "If the user still sees a login page, check what cookie the browser sends: gatehouse explain --cookie VALUE." : nil,
                           evidence: [])
        }
        let absolute = session.endReason == CredentialFailure.expiredAbsolute.rawValue
            || (session.state == .active && session.absoluteExpiresAt <= session.idleExpiresAt)
        if absolute {
            return Verdict(cause: .absoluteExpiry, at: session.absoluteExpiresAt,
                           summary: "reached its absolute lifetime at \(time(session.absoluteExpiresAt)) (created \(time(session.createdAt)))",
                           hint: nil, evidence: ended.map { [$0.seq] } ?? [])
        }
        return Verdict(cause: .idleExpiry, at: session.idleExpiresAt,
                       summary: "no request for \(Self.duration(session.idleTimeout)) after \(time(session.lastSeenAt)): expired idle at \(time(session.idleExpiresAt))",
                       hint: nil, evidence: ended.map { [$0.seq] } ?? [])
    }

    // MARK: - Evidence

    /// Audit rows keep their time to the millisecond; bounds taken from other clocks allow for it.
    static let auditTimePrecision = 0.001

    /// Refused lookups of cookies this server never issued, from this session's browser (same
    /// address and user agent), after the session's last row and before it ended.
    private func foreignCookies(after seq: Int64, in tx: any SQLTransaction) throws -> [AuditEvent] {
        let until = session.endedAt ?? min(now, session.expiresAt)
        // Same address and user agent, a missing one matching only a missing one (what SQLite's
        // `IS ?` did; PostgreSQL's `IS` takes no bound value): the condition is written per case.
        var arguments: SQLArguments = [seq, seq + Forensics.scanWindow]
        func same(_ column: String, _ value: String?) -> String {
            guard let value else { return "\(column) IS NULL" }
            arguments.append(value)
            return "\(column) = ?"
        }
        let address = same("ip", session.ip)
        let agent = same("user_agent", session.userAgent)
        arguments.append(session.lastSeenAt.unixSeconds - Self.auditTimePrecision)
        arguments.append(until.unixSeconds + Self.auditTimePrecision)
        return try tx.fetchAll(AuditEvent.self, """
            SELECT * FROM audit_events
            WHERE seq > ? AND seq <= ? AND action = 'session.lookup_failed' AND target_id IS NULL
              AND reason IN (\(CredentialFailure.foreignCookie.map { "'\($0.rawValue)'" }.joined(separator: ", "))) AND \(address) AND \(agent) AND at >= ? AND at <= ?
            ORDER BY seq LIMIT 50
            """, arguments)
    }

    /// An expiry nobody observed has no audit row: the timeline shows it from the timestamps.
    private func derivedExpiry(_ events: [AuditEvent]) -> TimelineEntry? {
        guard session.state == .active, session.effectiveState(at: now) == .expired else { return nil }
        return TimelineEntry(at: session.expiresAt, seq: nil, action: "session.expired",
                             text: "expired (\(session.absoluteExpiresAt <= session.idleExpiresAt ? "absolute lifetime" : "idle")); no request came after to record it",
                             isEvidence: true)
    }

    static func entry(_ event: AuditEvent, evidence: Bool) -> TimelineEntry {
        TimelineEntry(at: event.at, seq: event.seq, action: event.action, text: describe(event), isEvidence: evidence)
    }

    /// One line a person reads: what happened, by whom, with the fingerprints that link rows.
    /// A detail a row lacks is left out, never shown as a placeholder.
    static func describe(_ event: AuditEvent) -> String {
        let actor = event.actorType + (event.actorId.map { ":\($0)" } ?? "")
        let from = event.ip.map { " from \($0)" } ?? ""
        func detail(_ key: String, _ prefix: String = " ") -> String { event.detail(key).map { prefix + $0 } ?? "" }
        let because = event.reason.map { " (\($0))" } ?? ""
        switch event.action {
        case "session.created": return "login\(from)"
        case "session.regenerated":
            return "id regenerated (\(event.reason ?? "regenerate")): cookie\(detail("previous_secret"))\(detail("secret", " → "))"
        case "refresh.rotated": return "refresh: token\(detail("token"))\(detail("successor", " → "))\(from)"
        case "refresh.rate_limited": return "refresh refused: rate limited\(event.detail("policy").map { " (\($0))" } ?? "")\(from)"
        case "refresh.reuse_benign": return "token\(detail("token")) presented again within the grace window: served"
        case "refresh.reuse_detected":
            let after = event.detail("seconds_after_rotation").map { " \(seconds($0)) s after rotation" } ?? " after rotation"
            return "REUSE: token\(detail("token")) presented again\(after)\(from)"
        case "refresh.failed": return "refresh refused\(event.reason.map { ": \($0)" } ?? "")\(from)"
        case "session.lookup_failed":
            let name = event.detail("cookie_name").map { " '\($0)'" } ?? ""
            return "cookie\(name)\(detail("secret")) refused\(event.reason.map { ": \($0)" } ?? "")\(from)\(event.requestId.map { " (request \($0))" } ?? "")"
        case "session.revoked", "session.logged_out", "session.expired", "refresh_family.revoked", "refresh_token.revoked":
            return "\(event.action.split(separator: ".").last.map(String.init)?.replacingOccurrences(of: "_", with: " ") ?? event.action) by \(actor)\(because)"
        default:
            return "\(event.action) by \(actor)\(because)"
        }
    }

    /// "120" for 120.000, "2.5" below ten seconds: precision where it matters.
    static func seconds(_ text: String) -> String {
        guard let value = Double(text) else { return text }
        return value < 10 ? String(format: "%.1f", value) : String(Int(value.rounded()))
    }

    private func time(_ date: Date) -> String { Timestamp.iso8601(date) }

    /// " at TIME", or nothing when the time is not known: a sentence never carries a placeholder.
    private func at(_ date: Date?) -> String { date.map { " at \(time($0))" } ?? "" }

    static func duration(_ seconds: TimeInterval) -> String {
        let s = Int(seconds)
        if s >= 86400 && s % 86400 == 0 { return "\(s / 86400) d" }
        if s >= 3600 { return "\(s / 3600) h \(s % 3600 / 60) min" }
        if s >= 60 { return "\(s / 60) min" }
        return "\(s) s"
    }
}
