import Crypto
import Foundation
import GatehouseTestSupport
import JWTKit
import Testing
@testable import GatehouseCore

@Suite("Access tokens")
struct AccessTokenTests {
    private static func decodeSegment(_ segment: Substring) throws -> Data {
        try #require(Base64URL.decode(String(segment)))
    }

    /// Verifies with nothing but the JWKS and swift-crypto, as an unrelated service would.
    @Test("a token verifies from the JWKS alone and carries whole-second claims")
    func verifiesFromJWKS() async throws {
        let test = try TestGatehouse()
        let (login, pair) = try await test.apiLogin()
        let jwks = try JSONSerialization.jsonObject(with: Data(try await test.gatehouse.accessTokens.jwks().utf8)) as! [String: Any]
        let key = try #require((jwks["keys"] as? [[String: String]])?.first)
        #expect(key["kty"] == "EC" && key["crv"] == "P-256" && key["alg"] == "ES256")

        let parts = pair.accessToken.split(separator: ".")
        #expect(parts.count == 3)
        let header = try JSONSerialization.jsonObject(with: Self.decodeSegment(parts[0])) as! [String: Any]
        #expect(header["alg"] as? String == "ES256")
        #expect(header["kid"] as? String == key["kid"])

        let x = try #require(Base64URL.decode(key["x"]!)), y = try #require(Base64URL.decode(key["y"]!))
        let publicKey = try P256.Signing.PublicKey(rawRepresentation: x + y)
        let signature = try P256.Signing.ECDSASignature(rawRepresentation: Self.decodeSegment(parts[2]))
        #expect(publicKey.isValidSignature(signature, for: Data("\(parts[0]).\(parts[1])".utf8)))

        let payloadText = String(decoding: try Self.decodeSegment(parts[1]), as: UTF8.self)
        let payload = try JSONSerialization.jsonObject(with: Data(payloadText.utf8)) as! [String: Any]
        #expect(payload["sid"] as? String == login.session.handle)
        #expect(payload["sub"] as? String == String(login.user.id))
        // Whole seconds, as integers in the JSON text (not 1800000000.0).
        #expect(payloadText.range(of: #""iat":\d+[,}]"#, options: .regularExpression) != nil)
        #expect(payloadText.range(of: #""exp":\d+[,}]"#, options: .regularExpression) != nil)
        let iat = try #require(payload["iat"] as? Int), exp = try #require(payload["exp"] as? Int)
        #expect(exp - iat == 900)
    }

    @Test("every process sharing the file signs with the same key")
    func keyIsShared() async throws {
        let test = try TestGatehouse()
        let other = try Gatehouse.open(path: test.path, options: TestEngine.options(), clock: test.clock)
        #expect(try await test.gatehouse.accessTokens.keyID() == other.accessTokens.keyID())
        let (_, pair) = try await test.apiLogin()
        _ = try await other.authenticateAccessToken(pair.accessToken)
    }

    @Test("an access token stops working the moment its session is revoked, and at exp")
    func revocationIsImmediate() async throws {
        let test = try TestGatehouse()
        let (login, pair) = try await test.apiLogin()
        let authenticated = try await test.gatehouse.authenticateAccessToken(pair.accessToken)
        #expect(authenticated.user.email == "alice@example.com")
        try await test.gatehouse.sessions.revoke(handle: login.session.handle, by: .system)
        #expect(await failure { try await test.gatehouse.authenticateAccessToken(pair.accessToken) } == .revoked)
        let rejected = try #require(try await test.gatehouse.audit.tail(limit: 5).last)
        #expect(rejected.action == "access_token.rejected" && rejected.reason == "revoked" && rejected.targetId == login.session.handle)

        let (_, second) = try await test.apiLogin()
        test.clock.advance(by: 900)
        #expect(await failure { try await test.gatehouse.authenticateAccessToken(second.accessToken) } == .expired)
        #expect(await failure { try await test.gatehouse.authenticateAccessToken("a.b.c") } == .malformed)
    }

    /// `TokenJSONEncoder` writes the claims and the header by hand: what it writes must read
    /// back as the values, whatever the strings hold (RFC 8259 §7 escapes).
    @Test("token JSON written by hand reads back as the claims and header it was made from", arguments: [
        "plain", "quote \" reverse solidus \\ solidus /", "controls \u{0}\u{1}\u{1F}\n\r\t\u{7F}", "Élodie 😀 \u{2028}\u{2029}", "",
    ])
    func tokenJSON(_ text: String) throws {
        let claims = AccessTokenClaims(
            iss: .init(value: text), sub: .init(value: "42"), sid: "ses_" + text,
            iat: .init(value: Date(timeIntervalSince1970: 1_800_000_000)), exp: .init(value: Date(timeIntervalSince1970: 1_800_000_900)),
            jti: .init(value: "at_" + text))
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .secondsSince1970
        #expect(try decoder.decode(AccessTokenClaims.self, from: TokenJSONEncoder.json(claims)) == claims)
        let header = JWTHeader(fields: ["alg": .string("ES256"), "kid": .string(text), "typ": .string("JWT")])
        let written = try #require(TokenJSONEncoder.json(header))
        #expect(try JSONSerialization.jsonObject(with: written) as? [String: String] == ["alg": "ES256", "kid": text, "typ": "JWT"])
        // The same members as Foundation's encoder writes (a claim added to AccessTokenClaims
        // later and not to TokenJSONEncoder would be left out of every token).
        let foundation = JSONEncoder()
        foundation.dateEncodingStrategy = .integerSecondsSince1970
        let expected = try JSONSerialization.jsonObject(with: foundation.encode(claims)) as? NSDictionary
        #expect(try JSONSerialization.jsonObject(with: TokenJSONEncoder.json(claims)) as? NSDictionary == expected)
        // A header with anything but strings is Foundation's to write.
        #expect(TokenJSONEncoder.json(JWTHeader(fields: ["alg": .string("ES256"), "x5c": .array([.string("a")])])) == nil)
    }
}
