import Foundation

/// Waits for a state, not for a time: polls `condition` every `interval` until it holds, or
/// gives up after `timeout` and says so (false). The timeout is generous on purpose: a debug
/// build on a loaded two-core machine may take minutes for what takes seconds alone (an audit
/// report over 150,000 events on PostgreSQL), and only a state that never comes should fail.
public func eventually(timeout: Duration = .seconds(900), every interval: Duration = .milliseconds(50),
                       _ condition: () async throws -> Bool) async throws -> Bool {
    let deadline = ContinuousClock.now + timeout
    while try await !condition() {
        guard ContinuousClock.now < deadline else { return false }
        try await Task.sleep(for: interval)
    }
    return true
}
