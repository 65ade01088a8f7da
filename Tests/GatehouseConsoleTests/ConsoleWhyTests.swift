import Foundation
import GatehouseCore
import Testing
import TerminalKit
@testable import GatehouseConsole

@Suite("Console: the Why? view")
struct ConsoleWhyTests {
    @Test("w on a session: the verdict in one line at the top, the timeline below, evidence highlighted; W covers the user")
    func why() async throws {
        let fixture = try ConsoleFixture(width: 120, height: 30)
        let login = try await fixture.login("alice@example.com")
        fixture.clock.advance(by: 30)
        _ = try await fixture.writer.sessions.revoke(handle: login.session.handle,
                                                     by: .operator(OperatorIdentity(name: "mallory", sshClient: "192.0.2.5", via: "cli")))
        await fixture.start()
        await fixture.press(.character("w"))
        let lines = fixture.raw.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        #expect(lines[2].contains("Why? session ses_"))
        #expect(lines[3].contains("Why: revoked_by_operator — revoked by operator:mallory@192.0.2.5 at "), "\(fixture.raw)")
        let evidenceRow = try #require(lines.firstIndex { $0.contains("▶") && $0.contains("revoked by operator:mallory") })
        let x = try #require(lines[evidenceRow].firstIndex(of: "▶")).utf16Offset(in: lines[evidenceRow])
        #expect(fixture.style(x: x, y: evidenceRow) == fixture.themed(\.warn))
        #expect(lines.contains { $0.contains("login from 198.51.100.7") && !$0.contains("▶") })

        await fixture.press(.escape, .character("W"))
        #expect(fixture.raw.contains("Why? user alice@example.com"))
        // The user's sign-in links are part of the story ("I never got the email").
        #expect(fixture.raw.contains("Sign-in links, newest first") && fixture.raw.contains("mail kept in the outbox"), "\(fixture.raw)")
        await fixture.press(.escape)
        #expect(!fixture.raw.contains("Why?"))
    }

    @Test(":keys lists the signing keys with their states after a rotation and a retirement")
    func keys() async throws {
        let fixture = try ConsoleFixture(width: 120, height: 30)
        _ = try await fixture.login("alice@example.com")
        let oncall = Actor.operator(OperatorIdentity(name: "oncall", sshClient: nil, via: "cli"))
        let (first, _) = try await fixture.writer.signingKeys.rotate(by: oncall)
        let (second, _) = try await fixture.writer.signingKeys.rotate(by: oncall)
        _ = try await fixture.writer.signingKeys.retire(kid: try #require(second?.kid), by: oncall, reason: "test")
        await fixture.start()
        await fixture.press(.character(":"))
        await fixture.type("keys")
        await fixture.press(.enter)
        let lines = fixture.raw.split(separator: "\n").map(String.init)
        #expect(lines.contains { $0.contains("Signing keys") }, "\(fixture.raw)")
        #expect(lines.contains { $0.contains(first!.kid) && $0.contains("published") }, "\(fixture.raw)")
        #expect(lines.contains { $0.contains(second!.kid) && $0.contains("retired") })
        #expect(lines.contains { $0.contains("current") && $0.contains("database") })
    }
}
