import Foundation
import GatehouseCore
import TerminalKit

/// Everything that can change the model: input, time, and the results of side effects.
enum ConsoleMessage: Sendable {
    case event(Event)
    case tick
    /// The change detector answered: reload when true.
    case databaseChanged(Bool)
    /// `generation` tells a stale answer from the latest (see `LoadTracker`).
    case sessionsLoaded([SessionSummary], anchor: Page, select: [Int64]?, generation: Int)
    case tokensLoaded([RefreshTokenSummary], anchor: Page, select: [Int64]?, generation: Int)
    /// A page-up/home/end lookup found where the window should start.
    case reanchor(PaneID, Page, select: [Int64]?)
    /// A pane's read failed (locked, deleted file…): shown, and the pane may load again.
    case loadFailed(PaneID, String)
    case detailLoaded(TextView)
    case actionDone(String)
    case failed(String)
}

/// A side effect: runs off the UI thread and answers with one message.
typealias ConsoleCommand = @Sendable () async -> ConsoleMessage

/// The Core queries and actions the console makes. Nothing here touches the terminal.
struct ConsoleDataSource: Sendable {
    let gatehouse: Gatehouse
    let changes: ChangeDetector
    let actor: Actor

    func checkChanges() -> ConsoleCommand {
        { [changes] in
            do { return .databaseChanged(try changes.hasChanged()) } catch { return .failed(describe(error)) }
        }
    }

    func loadSessions(page: Page, filter: TextFilter?, limit: Int, select: [Int64]?, generation: Int) -> ConsoleCommand {
        { [gatehouse] in
            do {
                let rows = try await gatehouse.sessions.list(.init(text: filter), limit: limit, page: page)
                return .sessionsLoaded(rows, anchor: page, select: select, generation: generation)
            } catch { return .loadFailed(.sessions, describe(error)) }
        }
    }

    func loadTokens(page: Page, filter: TextFilter?, email: String?, limit: Int, select: [Int64]?, generation: Int) -> ConsoleCommand {
        { [gatehouse] in
            do {
                let rows = try await gatehouse.refreshTokens.list(.init(email: email, text: filter), limit: limit, page: page)
                return .tokensLoaded(rows, anchor: page, select: select, generation: generation)
            } catch { return .loadFailed(.tokens, describe(error)) }
        }
    }

    /// Finds the key a window should start at for page-up (`.before`) or end (`.last`).
    func findAnchor(pane: PaneID, page: Page, filter: TextFilter?, email: String?, count: Int, selectLast: Bool) -> ConsoleCommand {
        { [gatehouse] in
            do {
                let keys: [[Int64]]
                switch pane {
                case .sessions:
                    keys = try await gatehouse.sessions.list(.init(text: filter), limit: count, page: page).map(\.pageKey)
                case .tokens:
                    keys = try await gatehouse.refreshTokens.list(.init(email: email, text: filter), limit: count, page: page).map(\.pageKey)
                }
                guard let top = keys.first else { return .reanchor(pane, .first, select: nil) }
                // Fewer rows than asked above us: we are at the top.
                let anchor: Page = (page != .last && keys.count < count) ? .first : .from(top)
                return .reanchor(pane, anchor, select: selectLast ? keys.last : top)
            } catch { return .failed(describe(error)) }
        }
    }

    func loadSessionDetail(handle: String) -> ConsoleCommand {
        { [gatehouse] in
            do {
                guard let summary = try await gatehouse.sessions.summary(handle: handle) else {
                    return .failed("session \(handle) no longer exists")
                }
                let tokens = try await gatehouse.refreshTokens.list(.init(sessionHandle: handle), limit: 500)
                let events = try await gatehouse.audit.events(targetType: "session", targetId: handle)
                return .detailLoaded(SessionDetail.view(summary, tokens: tokens, events: events, now: gatehouse.clock.now()))
            } catch { return .failed(describe(error)) }
        }
    }

    func perform(_ action: PendingAction) -> ConsoleCommand {
        { [gatehouse, actor] in
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
                }
            } catch { return .failed(describe(error)) }
        }
    }
}

/// One line for the status bar, never a stack trace.
func describe(_ error: any Error) -> String {
    switch error {
    case let error as AuthError: return error.description
    case let error as DatabaseOpenError: return error.description
    default:
        let text = "\(error)"
        if text.contains("SQLITE_BUSY") || text.contains("database is locked") { return "the database is busy (locked by another process); try again" }
        if text.contains("SQLITE_READONLY") || text.contains("readonly") { return "the database is read-only here" }
        return text.split(separator: "\n").first.map(String.init) ?? "error"
    }
}
