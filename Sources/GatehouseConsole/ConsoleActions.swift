import Foundation
import GatehouseCore
import TerminalKit

/// Destructive actions: each opens a confirmation that names exactly what it will revoke.
extension ConsoleUpdate {
    /// Opens the confirmation that names exactly what will be revoked.
    func confirm(_ action: ConsoleAction, _ model: inout ConsoleModel) {
        if let bulk = bulkAction(action, model) { return confirmBulk(bulk, &model) }
        let now = model.now
        switch (action, model.pane) {
        case (.revoke, .sessions):
            guard let row = model.sessions.selectedRow else { return }
            let s = row.session
            guard s.effectiveState(at: now) == .active else {
                model.message = StatusMessage(text: "session \(s.handle) has already ended (\(s.effectiveState(at: now).rawValue))", kind: .info)
                return
            }
            model.overlay = .confirm(ConfirmDialog(title: "Revoke session", lines: [
                "Revoke session \(s.handle) of \(row.email)?",
                "\(s.kind.rawValue) session from \(s.ip ?? "unknown IP"), created \(TimeText.since(s.createdAt, now: now)).",
                s.kind == .api ? "Its refresh family (\(row.familySize) token(s)) is revoked with it." : "Its cookie stops working at the next request.",
            ]), .revokeSession(handle: s.handle))
        case (.revoke, .tokens):
            guard let row = model.tokens.selectedRow else { return }
            guard row.token.state == .active else {
                model.message = StatusMessage(text: "token \(row.token.fingerprint) is not active (\(row.token.state.rawValue))", kind: .info)
                return
            }
            model.overlay = .confirm(ConfirmDialog(title: "Revoke refresh token", lines: [
                "Revoke refresh token \(row.token.fingerprint) of \(row.email)?",
                "Family \(row.token.family), session \(row.sessionHandle).",
                "The session stays; its next refresh with this token fails.",
            ]), .revokeToken(hashHex: GatehouseCore.Fingerprint.hex(row.token.tokenHash), fingerprint: row.token.fingerprint))
        case (.revokeFamily, .tokens):
            guard let row = model.tokens.selectedRow else { return }
            model.overlay = .confirm(ConfirmDialog(title: "Revoke refresh family", lines: [
                "Revoke every active token of family \(row.token.family) (\(row.email))?",
                "Session \(row.sessionHandle) stays; its access token lives until it expires.",
            ]), .revokeFamily(row.token.family))
        case (.cancelJob, .jobs):
            guard let job = model.jobs.selectedRow else { return }
            guard job.state == .queued || job.state == .running else {
                model.message = StatusMessage(text: "job \(job.id) is \(job.state.rawValue); only queued or running jobs can be cancelled", kind: .info)
                return
            }
            model.overlay = .confirm(ConfirmDialog(title: "Cancel job", lines: [
                "Cancel job \(job.id) (\(job.kind) \(JobsPane.arguments(job)))?",
                job.state == .running ? "It is running (\(job.progress)%): it stops at its next checkpoint." : "It is queued: it will not run.",
            ]), .cancelJob(id: job.id))
        case (.retryJob, .jobs):
            guard let job = model.jobs.selectedRow else { return }
            guard job.state == .failed || job.state == .cancelled else {
                model.message = StatusMessage(text: "job \(job.id) is \(job.state.rawValue); only failed or cancelled jobs can be retried", kind: .info)
                return
            }
            model.overlay = .confirm(ConfirmDialog(title: "Retry job", lines: [
                "Queue job \(job.id) (\(job.kind) \(JobsPane.arguments(job))) again?",
                "Its attempts start again from zero\(job.lastError.map { "; it last failed with: \($0)" } ?? ".")",
            ]), .retryJob(id: job.id))
        case (.resetBucket, .limits):
            guard let bucket = model.limits.selectedRow else { return }
            model.overlay = .confirm(ConfirmDialog(title: "Reset rate-limit bucket", lines: [
                "Reset bucket \(bucket.key) (\(LimitsPane.rate(bucket)))?",
                "It has \(bucket.remaining(at: now)) of \(bucket.limit) requests left and blocked \(bucket.blockedTotal) so far.",
                "Its client may make \(bucket.limit) requests at once afterwards.",
            ]), .resetBucket(key: bucket.key))
        case (.revokeUser, .sessions), (.revokeUser, .tokens):
            let email = model.pane == .sessions ? model.sessions.selectedRow?.email : model.tokens.selectedRow?.email
            guard let email else { return }
            model.overlay = .confirm(ConfirmDialog(title: "Revoke every session of a user", lines: [
                "Revoke EVERY active session of \(email), with their refresh tokens?",
                "Type the email address to confirm.",
            ], expected: email), .revokeUser(email: email))
        default:
            break
        }
    }
}
