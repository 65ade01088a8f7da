import Foundation
import GatehouseCore
import TerminalKit

/// The rows of one pane's window, newest first.
enum PaneRows: Sendable {
    case sessions([SessionSummary])
    case tokens([RefreshTokenSummary])
    case limits([RateLimitBucket])
    case jobs([Job])
    case audit([AuditEvent])
    case pulse(AuditPulse)

    var pane: PaneID {
        switch self {
        case .sessions: .sessions
        case .tokens: .tokens
        case .limits: .limits
        case .jobs: .jobs
        case .audit: .audit
        case .pulse: .pulse
        }
    }

    var keys: [PageKey] {
        switch self {
        case .sessions(let rows): rows.map(\.pageKey)
        case .tokens(let rows): rows.map(\.pageKey)
        case .limits(let rows): rows.map(\.pageKey)
        case .jobs(let rows): rows.map(\.pageKey)
        case .audit(let rows): rows.map(\.pageKey)
        case .pulse: []
        }
    }
}

/// What a pane lists: its filter and, for tokens, the user `:tokens EMAIL` narrowed it to;
/// for the audit log, a Pulse column it was opened on; for the Pulse pane, its span in minutes.
struct PaneQuery: Sendable {
    var pane: PaneID
    var filter: TextFilter?
    var email: String?
    var scope: AuditScope?
    var span = 60
    var minutesPerPoint = 1
}

/// Which row to select once a window has been read.
enum RowSelection: Sendable {
    /// Keep the selection as it is (by key, else by index).
    case keep
    case key(PageKey)
    /// The last row that fits in a window of this many rows (after sliding down by one).
    case bottom(window: Int)
}

/// The Core queries and actions the console makes. Nothing here touches the terminal.
struct ConsoleDataSource: Sendable {
    let gatehouse: Gatehouse
    let changes: ChangeDetector
    let actor: Actor

    private func explain(_ error: any Error) -> String { gatehouse.database.explain(error) }

    func checkChanges() -> ConsoleCommand {
        { [self] in
            do { return .databaseChanged(try changes.hasChanged()) } catch { return .failed(explain(error)) }
        }
    }

    /// The one place a pane's rows are read.
    private func read(_ query: PaneQuery, page: Page, limit: Int) async throws -> PaneRows {
        switch query.pane {
        case .sessions:
            .sessions(try await gatehouse.sessions.list(.init(text: query.filter), limit: limit, page: page))
        case .tokens:
            .tokens(try await gatehouse.refreshTokens.list(.init(email: query.email, text: query.filter), limit: limit, page: page))
        case .limits:
            .limits(try await gatehouse.rateLimits.list(text: query.filter, limit: limit, page: page))
        case .jobs:
            .jobs(try await gatehouse.jobs.list(text: query.filter, limit: limit, page: page))
        case .audit:
            .audit(try await gatehouse.audit.list(text: query.filter, scope: query.scope, limit: limit, page: page))
        case .pulse:
            .pulse(try await gatehouse.audit.pulse(span: query.span, minutesPerPoint: query.minutesPerPoint))
        }
    }

    func load(_ query: PaneQuery, page: Page, limit: Int, select: RowSelection, generation: Int) -> ConsoleCommand {
        { [self] in
            do {
                let rows = try await read(query, page: page, limit: limit)
                let key: PageKey? = switch select {
                case .keep: nil
                case .key(let key): key
                case .bottom(let window): rows.keys.isEmpty ? nil : rows.keys[min(window - 1, rows.keys.count - 1)]
                }
                return .loaded(rows, anchor: page, select: key, generation: generation)
            } catch { return .loadFailed(query.pane, explain(error)) }
        }
    }

    /// Finds the key a window should start at for page-up (`.before`) or end (`.last`).
    func findAnchor(_ query: PaneQuery, page: Page, count: Int, selectLast: Bool) -> ConsoleCommand {
        { [self] in
            do {
                let keys = try await read(query, page: page, limit: count).keys
                guard let top = keys.first else { return .reanchor(query.pane, .first, select: nil) }
                // Fewer rows than asked above us: we are at the top.
                let anchor: Page = (page != .last && keys.count < count) ? .first : .from(top)
                return .reanchor(query.pane, anchor, select: selectLast ? keys.last : top)
            } catch { return .failed(explain(error)) }
        }
    }

    func loadSessionDetail(handle: String, theme: ConsoleTheme) -> ConsoleCommand {
        { [self] in
            do {
                guard let summary = try await gatehouse.sessions.summary(handle: handle) else {
                    return .failed("session \(handle) no longer exists")
                }
                let tokens = try await gatehouse.refreshTokens.list(.init(sessionHandle: handle), limit: 500)
                let events = try await gatehouse.audit.events(targetType: "session", targetId: handle)
                return .detailLoaded(SessionDetail.view(summary, tokens: tokens, events: events, now: gatehouse.clock.now(), theme: theme))
            } catch { return .failed(explain(error)) }
        }
    }

    /// One step of the chain verification (50,000 rows, ~0.1 s), continuing from `checkpoint`.
    func checkChain(after checkpoint: AuditCheckpoint?) -> ConsoleCommand {
        { [self] in
            do {
                var step = try await gatehouse.audit.verify(after: checkpoint, limit: 50_000)
                step.newestSigned = try await gatehouse.audit.newestCheckpoint()
                return .chainChecked(step)
            } catch { return .failed(explain(error)) }
        }
    }

    func loadWhy(_ subject: Forensics.Subject, theme: ConsoleTheme) -> ConsoleCommand {
        { [self] in
            do {
                return .detailLoaded(WhyView.view(try await gatehouse.forensics.explain(subject), theme: theme))
            } catch { return .failed(explain(error)) }
        }
    }

    func loadKeys(theme: ConsoleTheme) -> ConsoleCommand {
        { [self] in
            do {
                return .detailLoaded(KeysView.view(try await gatehouse.signingKeys.list(), now: gatehouse.clock.now(), theme: theme))
            } catch { return .failed(explain(error)) }
        }
    }

    func loadBucketDetail(key: String) -> ConsoleCommand {
        { [self] in
            do {
                guard let bucket = try await gatehouse.rateLimits.bucket(key: key) else { return .failed("bucket \(key) no longer exists") }
                let events = try await gatehouse.audit.events(targetType: "rate_limit", targetId: key)
                return .detailLoaded(LimitDetail.view(bucket, events: events, now: gatehouse.clock.now()))
            } catch { return .failed(explain(error)) }
        }
    }

    func loadJobDetail(id: Int64, theme: ConsoleTheme) -> ConsoleCommand {
        { [self] in
            do {
                guard let (job, outputs) = try await gatehouse.jobs.find(id: id) else { return .failed("job \(id) no longer exists") }
                let events = try await gatehouse.audit.events(targetType: "job", targetId: String(id))
                return .detailLoaded(JobDetail.view(job, outputs: outputs, events: events, now: gatehouse.clock.now(), theme: theme))
            } catch { return .failed(explain(error)) }
        }
    }

    func complete(_ argument: CommandPalette.Argument, prefix: String, text: String) -> ConsoleCommand {
        { [self] in
            do {
                let matches = switch argument {
                case .email: try await gatehouse.userEmails(startingWith: prefix)
                case .bucket: try await gatehouse.rateLimits.keys(startingWith: prefix)
                case .none, .theme: [String]()
                }
                return .completions(text: text, matches)
            } catch { return .failed(explain(error)) }
        }
    }

    func startJob(_ request: JobRequest) -> ConsoleCommand {
        { [self] in
            do {
                let enqueued = try await gatehouse.jobs.enqueue(request, by: actor)
                let job = enqueued.job
                return .jobStarted(enqueued.deduplicated ? "job \(job.id) was already \(job.state.rawValue) with these arguments"
                                                         : "started job \(job.id) (\(job.kind) \(JobsPane.arguments(job)))")
            } catch let error as JobError {
                return .jobRefused(error.description)
            } catch { return .jobRefused(explain(error)) }
        }
    }

    func perform(_ action: PendingAction) -> ConsoleCommand {
        { [self] in
            do {
                switch action {
                case .revokeSession(let handle):
                    let done = try await gatehouse.sessions.revoke(handle: handle, by: actor)
                    return .actionDone(done ? "revoked session \(handle)" : "session \(handle) had already ended")
                case .revokeUser(let email):
                    let handles = try await gatehouse.sessions.revokeAll(email: email, by: actor)
                    return .actionDone("revoked \(handles.count) session(s) of \(email)")
                case .revokeToken(let hashHex, let fingerprint):
                    let done = try await gatehouse.refreshTokens.revoke(tokenOrFingerprint: hashHex, by: actor)
                    return .actionDone(done ? "revoked refresh token \(fingerprint)" : "token \(fingerprint) was no longer active")
                case .revokeFamily(let family):
                    let count = try await gatehouse.refreshTokens.revokeFamily(family, by: actor)
                    return .actionDone("revoked \(count) token(s) of family \(family)")
                case .cancelJob(let id):
                    let job = try await gatehouse.jobs.cancel(id: id, by: actor)
                    return .actionDone(job.state == .cancelled ? "cancelled job \(id)" : "job \(id) asked to stop at its next checkpoint")
                case .retryJob(let id):
                    _ = try await gatehouse.jobs.retry(id: id, by: actor)
                    return .actionDone("job \(id) queued again")
                case .revokeIssuedBefore(let cutoff, let email):
                    let count = try await gatehouse.sessions.revoke(issuedBefore: cutoff, email: email, by: actor)
                    return .actionDone("revoked \(count) session(s)\(email.map { " of \($0)" } ?? " of every user") created before \(Timestamp.iso8601(cutoff))")
                case .bulk(let bulk):
                    return .actionDone(try await performBulk(bulk))
                case .resetBucket(let key):
                    let done = try await gatehouse.rateLimits.reset(key: key, by: actor)
                    return .actionDone(done ? "reset bucket \(key): its client may go again" : "bucket \(key) no longer exists")
                }
            } catch { return .failed(explain(error)) }
        }
    }

    /// Each target in its own transaction with its own audit row, then one summary row naming
    /// how many changed. A target that changed meanwhile (ended, gone) is counted, not fatal.
    private func performBulk(_ bulk: BulkAction) async throws -> String {
        var changed = 0
        var problems: [String] = []
        func each<T>(_ items: [T], _ name: (T) -> String, _ work: (T) async throws -> Bool) async {
            for item in items {
                do {
                    if try await work(item) { changed += 1 }
                } catch JobError.wrongState {
                    // Finished meanwhile: nothing to cancel, like a session that had already ended.
                } catch {
                    problems.append("\(name(item)): \(explain(error))")
                }
            }
        }
        switch bulk {
        case .revokeSessions(let handles):
            await each(handles, { $0 }) { try await gatehouse.sessions.revoke(handle: $0, by: actor) }
        case .revokeTokens(let tokens):
            await each(tokens, \.fingerprint) { try await gatehouse.refreshTokens.revoke(tokenOrFingerprint: $0.hashHex, by: actor) }
        case .revokeFamilies(let families):
            await each(families, { $0 }) { try await gatehouse.refreshTokens.revokeFamily($0, by: actor) > 0 }
        case .resetBuckets(let keys):
            await each(keys, { $0 }) { try await gatehouse.rateLimits.reset(key: $0, by: actor) }
        case .cancelJobs(let ids):
            await each(ids, { String($0) }) { _ = try await gatehouse.jobs.cancel(id: $0, by: actor); return true }
        }
        let targets = bulk.targets
        try await gatehouse.audit.record(AuditEntry(
            actor: actor, action: bulk.summaryAction, outcome: problems.isEmpty ? .success : .failure, reason: bulk.verb,
            details: ["targets": String(targets.count), "changed": String(changed), "failed": String(problems.count),
                      "first": targets.prefix(BulkAction.named).joined(separator: " ")]))
        let unchanged = targets.count - changed - problems.count
        var text = "\(bulk.pastTense) \(changed) of \(bulk.counted(targets.count))"
        if unchanged > 0 { text += "; \(unchanged) had already ended or changed" }
        if let first = problems.first { text += "; \(problems.count) failed, first: \(first)" }
        return text
    }

    /// `:revoke-before TIME [EMAIL]`: counts first, so the confirmation names the number; for
    /// every user, the word "all" is typed.
    func prepareRevokeBefore(_ cutoff: Date, email: String?) -> ConsoleCommand {
        { [self] in
            do {
                let count = try await gatehouse.sessions.countActive(issuedBefore: cutoff, email: email)
                let time = Timestamp.iso8601(cutoff)
                guard count > 0 else {
                    return .failed("no active session\(email.map { " of \($0)" } ?? "") was created before \(time): nothing to revoke")
                }
                let dialog = if let email {
                    ConfirmDialog(title: "Revoke sessions issued before a time", lines: [
                        "Revoke the \(count) active session(s) of \(email) created before \(time)?",
                        "Sessions created since (a login after a password change) stay.",
                    ])
                } else {
                    ConfirmDialog(title: "Revoke EVERY session issued before a time", lines: [
                        "Revoke \(count) active session(s) of EVERY user created before \(time)?",
                        "Everyone signed in before then must sign in again (a signing-key compromise).",
                        "Type all to confirm.",
                    ], expected: "all")
                }
                return .confirm(dialog, .revokeIssuedBefore(cutoff: cutoff, email: email))
            } catch { return .failed(explain(error)) }
        }
    }
}
