import Foundation
import GatehouseTestSupport
import Testing
@testable import GatehouseCore

@Suite("Signing keys: rotation, retirement, key file")
struct SigningKeyTests {
    static let oncall = Actor.operator(OperatorIdentity(name: "oncall", sshClient: nil, via: "cli"))

    static func kids(_ gatehouse: Gatehouse) async throws -> [String] {
        let document = try JSONSerialization.jsonObject(with: Data(try await gatehouse.accessTokens.jwks().utf8)) as? [String: Any]
        return (document?["keys"] as? [[String: String]] ?? []).compactMap { $0["kid"] }
    }

    /// Another process's view of the same database (its own key cache).
    static func otherProcess(_ test: TestGatehouse, keyFile: SigningKeyFile? = nil) throws -> Gatehouse {
        var configuration = GatehouseConfiguration()
        configuration.signingKeyFile = keyFile
        return try Gatehouse.open(path: test.path, options: TestEngine.options(), configuration: configuration, clock: test.clock)
    }

    /// Waits (generously) until `condition` holds: other processes reload keys within seconds.
    static func eventually(_ what: String, _ condition: () async throws -> Bool) async throws {
        let deadline = ContinuousClock.now + .seconds(60)
        while ContinuousClock.now < deadline {
            if try await condition() { return }
            try await Task.sleep(for: .milliseconds(100))
        }
        Issue.record("never happened: \(what)")
    }

    /// Field report: `keys retire KID` failed now and then with "Missing expected argument
    /// '<kid>'": one base64url kid in 32 began with "-", which the command line took for an option.
    @Test("a kid is 16 hex digits, never beginning with '-'; an older kid that does is retired from the CLI after --")
    func kidOnTheCommandLine() async throws {
        for _ in 0..<500 {
            let kid = try SigningKeys.NewKey().kid
            #expect(kid.count == 16 && kid.allSatisfy { "0123456789abcdef".contains($0) }, "\(kid)")
        }
        let test = try TestGatehouse()
        let current = try await test.gatehouse.accessTokens.keyID()
        let legacy = "-Xy_legacy-kid01"
        try test.rawWrite("UPDATE signing_keys SET kid = '\(legacy)' WHERE kid = '\(current)'")
        let retired = try await GatehouseBinary.run(["keys", "retire", "--confirm", legacy, "--reason", "test", "--db", test.path, "--", legacy])
        #expect(retired.status == 0, "\(retired.stdout)\(retired.stderr)")
        let list = try await GatehouseBinary.run(["keys", "list", "--json", "--db", test.path])
        let keys = (try JSONSerialization.jsonObject(with: Data(list.stdout.utf8)) as? [String: Any])?["signing_keys"] as? [[String: Any]] ?? []
        #expect(keys.contains { $0["kid"] as? String == legacy && $0["state"] as? String == "retired" }, "\(list.stdout)")
        // The help says where such a kid goes.
        let help = try await GatehouseBinary.run(["keys", "retire", "--help"])
        #expect(help.stdout.contains("goes after --"), "\(help.stdout)")
    }

    @Test("rotation: a new key signs, the old one verifies and stays in the JWKS until its tokens expired, then leaves")
    func rotation() async throws {
        let test = try TestGatehouse()
        let (_, before) = try await test.apiLogin()
        let first = try await test.gatehouse.accessTokens.keyID()
        let (previous, current) = try await test.gatehouse.signingKeys.rotate(by: Self.oncall)
        #expect(previous?.kid == first && previous?.state == .published && current.kid != first)
        #expect(previous?.storage == .wiped)  // rotated out: the private half is wiped

        let server = try Self.otherProcess(test)
        try await Self.eventually("the other process signs with the new key") { try await server.accessTokens.keyID() == current.kid }
        #expect(try await Self.kids(server) == [current.kid, first])
        _ = try await server.authenticateAccessToken(before.accessToken)  // signed before the rotation: still good
        let (_, after) = try await test.apiLogin("bob@example.com")
        #expect(AccessTokenIssuer.headerKid(after.accessToken) == current.kid)
        _ = try await server.authenticateAccessToken(after.accessToken)
        let wiped = try await test.gatehouse.database.read { tx in
            try tx.fetchScalar(String.self, "SELECT private_key_pem FROM signing_keys WHERE kid = ?", [first])
        }
        #expect(wiped == "")

        // Past the window (token lifetime + reload + skew) the old key is gone from the JWKS.
        test.clock.advance(by: test.gatehouse.signingKeys.publicationWindow + 1)
        try await Self.eventually("the old key leaves the JWKS") { try await Self.kids(server) == [current.kid] }
        #expect(try await test.gatehouse.signingKeys.list().map(\.state) == [.current, .expired])
        let actions = try await test.auditActions()
        #expect(actions.contains("signing_key.rotated"))
        let rotated = try await test.gatehouse.audit.tail(limit: 50).first { $0.action == "signing_key.rotated" }
        #expect(rotated?.actorId == "oncall" && rotated?.targetId == current.kid)
    }

    @Test("retirement: the key's tokens are refused at once in every process, and retiring the current key makes a new one")
    func retirement() async throws {
        let test = try TestGatehouse()
        let (_, old) = try await test.apiLogin()
        let server = try Self.otherProcess(test)
        _ = try await server.authenticateAccessToken(old.accessToken)
        let first = try await test.gatehouse.accessTokens.keyID()
        let (retired, replacement) = try await test.gatehouse.signingKeys.retire(kid: first, by: Self.oncall, reason: "leaked in a paste")
        #expect(retired.state == .retired && replacement != nil && replacement?.kid != first)
        try await Self.eventually("the other process refuses the retired key's token") {
            do {
                _ = try await server.authenticateAccessToken(old.accessToken)
                return false
            } catch {
                return error.credentialFailure == .revoked
            }
        }
        #expect(try await Self.kids(server) == [replacement!.kid])
        let (_, fresh) = try await test.apiLogin("bob@example.com")
        _ = try await server.authenticateAccessToken(fresh.accessToken)
        await #expect(throws: SigningKeyError.alreadyRetired(first)) {
            try await test.gatehouse.signingKeys.retire(kid: first, by: Self.oncall, reason: "again")
        }
        let event = try await test.gatehouse.audit.tail(limit: 50).first { $0.action == "signing_key.retired" }
        #expect(event?.actorId == "oncall" && event?.reason == "leaked in a paste")
    }

    @Test("a key file: private halves outside the database (0600), verified from the database's public keys; missing file is a sentence")
    func keyFile() async throws {
        let directory = try TemporaryDirectory()
        let file = SigningKeyFile(path: directory.path("signing-keys.json"))
        let test = try TestGatehouse { $0.signingKeyFile = file }
        let (_, pair) = try await test.apiLogin()
        let kid = try await test.gatehouse.accessTokens.keyID()
        #expect(try file.load().keys.sorted() == [kid])
        let mode = try FileManager.default.attributesOfItem(atPath: file.path)[.posixPermissions] as? NSNumber
        #expect(mode?.uint16Value == 0o600)
        let stored = try await test.gatehouse.database.read { tx in try tx.fetchColumn(String.self, "SELECT private_key_pem FROM signing_keys") }
        #expect(stored == [""])
        #expect(try await test.gatehouse.signingKeys.list().first?.storage == .keyFile)

        // Without the file a process still verifies and publishes the JWKS (public keys are in
        // the database)... but cannot sign, nor rotate (the new key would go to the database).
        let withoutFile = try Self.otherProcess(test)
        _ = try await withoutFile.authenticateAccessToken(pair.accessToken)
        #expect(try await Self.kids(withoutFile) == [kid])
        await #expect(throws: SigningKeyError.privateKeyMissing(kid: kid, keyFile: nil)) { try await withoutFile.accessTokens.keyID() }
        await #expect(throws: SigningKeyError.keyFileRequired(kid: kid)) { try await withoutFile.signingKeys.rotate(by: Self.oncall) }
        let withFile = try Self.otherProcess(test, keyFile: file)
        _ = try await withFile.authenticateAccessToken(pair.accessToken)

        // Rotation writes the new key into the file and removes the old one's private half.
        let (_, current) = try await test.gatehouse.signingKeys.rotate(by: Self.oncall)
        #expect(try file.load().keys.sorted() == [current.kid])

        // A file others can read is refused.
        chmod(file.path, 0o644)
        #expect(throws: SigningKeyFile.Problem.self) { try file.load() }
    }
}
