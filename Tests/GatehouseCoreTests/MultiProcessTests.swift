import Foundation
import GatehouseTestSupport
import Testing
@testable import GatehouseCore

@Suite("Multiple processes on one file")
struct MultiProcessTests {
    /// The server and the console are separate processes on one file. Two writer processes and
    /// this test process (reading and revoking) work at once; nothing is lost, nothing fails
    /// with "database is locked", and the audit chain stays one unbroken chain.
    @Test("two writer processes and a reader-writer share the file without loss")
    func concurrentProcesses() async throws {
        let test = try TestGatehouse()
        let churn = { (email: String) in
            try GatehouseBinary.start(["debug", "login-churn", "--db", test.path, "--count", "40", "--email", email])
        }
        let first = try churn("one@example.com")
        let second = try churn("two@example.com")
        // Meanwhile this process reads pages and revokes what it sees.
        var revoked = Set<String>()
        for _ in 0..<30 {
            let page = try await test.gatehouse.sessions.list(.init(state: .active), limit: 5)
            if let victim = page.last, try await test.gatehouse.sessions.revoke(handle: victim.session.handle, by: .system) {
                revoked.insert(victim.session.handle)
            }
            try await Task.sleep(for: .milliseconds(10))
        }
        let results = [await first.exit(), await second.exit()]
        for result in results { #expect(result.status == 0, "\(result.stderr)") }
        let handles = results.flatMap { $0.stdout.split(separator: "\n").map(String.init) }
        #expect(handles.count == 80)
        #expect(try await test.gatehouse.sessions.count() == 80)
        #expect(try await test.gatehouse.sessions.count(state: .revoked) == revoked.count)
        let verification = try await test.gatehouse.audit.verify()
        #expect(verification.isIntact, "\(verification.problem ?? "")")
        // user.created ×2, session.created ×80, rotations ×80, revocations, plus keys and links.
        #expect(verification.checked >= 2 + 80 * 4 + revoked.count)
    }
}
