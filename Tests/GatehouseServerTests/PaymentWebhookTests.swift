import Foundation
import GatehouseCore
import GatehouseServer
import GatehouseTestSupport
import HTTPTypes
import HummingbirdTesting
import Testing

@Suite("Payment webhook")
struct PaymentWebhookTests {
    static func checkout(id: String, amount: Int = 1500, user: String = "alice@example.com", extra: String = "") -> String {
        #"{"id":"\#(id)","type":"checkout.session.completed","data":{"object":{"amount_total":\#(amount),"currency":"usd"\#(extra),"metadata":{"gatehouse_user":"\#(user)"}}}}"#
    }

    static func signed(_ body: String, fixture: ServerFixture, secret: String = ServerFixture.webhookSecret, offset: TimeInterval = 0) -> HTTPFields {
        let header = WebhookSignature(secret: secret).header(for: Data(body.utf8), at: fixture.clock.now().addingTimeInterval(offset))
        return [.stripeSignature: header]
    }

    @Test("a signed checkout.session.completed credits the user once; a second delivery is a 200 duplicate")
    func creditsOnce() async throws {
        let fixture = try ServerFixture()
        try await fixture.test { client in
            let tokens = try await client.apiLogin()
            let body = Self.checkout(id: "evt_1")
            let first = try await client.post("/api/v1/payment/webhook", json: body, headers: Self.signed(body, fixture: fixture))
            #expect(first.status == .ok)
            #expect(first.json["outcome"] as? String == "credited")
            #expect(first.json["duplicate"] as? Bool == false)
            let second = try await client.post("/api/v1/payment/webhook", json: body, headers: Self.signed(body, fixture: fixture))
            #expect(second.status == .ok)
            #expect(second.json["duplicate"] as? Bool == true)
            let me = try await client.get("/api/v1/auth/me", headers: tokens.bearer)
            #expect((me.json["user"] as? [String: Any])?["credits"] as? Int == 1500)
            #expect(try await fixture.gatehouse.payments.deliveries(eventId: "evt_1") == 2)
        }
    }

    @Test("50 concurrent deliveries of one event: one effect, 50 answers 2xx")
    func concurrentDuplicates() async throws {
        let fixture = try ServerFixture()
        try await fixture.test(.live) { client in
            let tokens = try await client.apiLogin()
            let body = Self.checkout(id: "evt_concurrent")
            let signature = Self.signed(body, fixture: fixture)[.stripeSignature]!
            let base = "http://127.0.0.1:\(client.port!)"
            let answers = try await withThrowingTaskGroup(of: HTTPResult.self) { group in
                for _ in 0..<50 {
                    group.addTask {
                        try await HTTPRequester.shared.send("POST", base + "/api/v1/payment/webhook", json: body,
                                                            headers: ["Stripe-Signature": signature])
                    }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(answers.count == 50)
            #expect(answers.allSatisfy { (200..<300).contains($0.status) }, "\(answers.map(\.status))")
            #expect(answers.filter { $0.json["duplicate"] as? Bool == false }.count == 1)
            let me = try await client.get("/api/v1/auth/me", headers: tokens.bearer)
            #expect((me.json["user"] as? [String: Any])?["credits"] as? Int == 1500)
            #expect(try await fixture.gatehouse.payments.deliveries(eventId: "evt_concurrent") == 50)
            let credited = try await fixture.gatehouse.audit.tail(limit: 1000).filter { $0.action == "payment.credited" }
            #expect(credited.count == 1)
        }
    }

    @Test("a bad, missing, malformed or stale signature is 400 and changes nothing")
    func badSignatures() async throws {
        let fixture = try ServerFixture()
        try await fixture.test { client in
            _ = try await client.apiLogin()
            let body = Self.checkout(id: "evt_bad")
            let now = Int(fixture.clock.now().timeIntervalSince1970)
            let cases: [(String, HTTPFields)] = [
                ("wrong secret", Self.signed(body, fixture: fixture, secret: "whsec_other")),
                ("missing", [:]),
                ("no t", [.stripeSignature: "v1=abcd"]),
                ("not key=value", [.stripeSignature: "garbage"]),
                ("non-hex v1", [.stripeSignature: "t=\(now),v1=zz"]),
                ("stale", Self.signed(body, fixture: fixture, offset: -301)),
                ("future", Self.signed(body, fixture: fixture, offset: 301)),
            ]
            for (name, headers) in cases {
                let response = try await client.post("/api/v1/payment/webhook", json: body, headers: headers)
                #expect(response.status == .badRequest, "\(name)")
                #expect(response.problemKind == "invalid-signature", "\(name)")
            }
            // A body changed after signing.
            let tampered = Self.checkout(id: "evt_bad", amount: 999_999)
            let response = try await client.post("/api/v1/payment/webhook", json: tampered, headers: Self.signed(body, fixture: fixture))
            #expect(response.status == .badRequest)
            #expect(try await fixture.gatehouse.payments.event(id: "evt_bad") == nil)
        }
    }

    @Test("several v1 signatures (a secret being rolled) are accepted when one matches; inside the tolerance is fine")
    func rolledSecret() async throws {
        let fixture = try ServerFixture()
        try await fixture.test { client in
            let body = Self.checkout(id: "evt_roll")
            let good = Self.signed(body, fixture: fixture, offset: -299)[.stripeSignature]!
            let old = WebhookSignature(secret: "whsec_old").header(for: Data(body.utf8), at: fixture.clock.now().addingTimeInterval(-299))
            let oldV1 = old.split(separator: ",")[1]
            let response = try await client.post("/api/v1/payment/webhook", json: body,
                                                 headers: [.stripeSignature: "\(good.split(separator: ",")[0]),\(oldV1),\(good.split(separator: ",")[1]),v0=ignored"])
            #expect(response.status == .ok)
            #expect(response.json["outcome"] as? String == "unmatched") // no such user yet
        }
    }

    @Test("other event types are acknowledged and recorded; unpaid checkouts credit nothing; unknown users are unmatched")
    func outcomes() async throws {
        let fixture = try ServerFixture()
        try await fixture.test { client in
            _ = try await client.apiLogin()
            let cases: [(String, String)] = [
                (#"{"id":"evt_other","type":"invoice.paid","data":{"object":{}}}"#, "recorded"),
                (Self.checkout(id: "evt_unpaid", extra: #","payment_status":"unpaid""#), "recorded"),
                (Self.checkout(id: "evt_nobody", user: "nobody@example.com"), "unmatched"),
                (#"{"id":"evt_nometa","type":"checkout.session.completed","data":{"object":{"amount_total":5}}}"#, "unmatched"),
            ]
            for (body, outcome) in cases {
                let response = try await client.post("/api/v1/payment/webhook", json: body, headers: Self.signed(body, fixture: fixture))
                #expect(response.status == .ok, "\(body)")
                #expect(response.json["outcome"] as? String == outcome, "\(body)")
            }
            let unpaid = try #require(try await fixture.gatehouse.payments.event(id: "evt_unpaid"))
            #expect(unpaid.note?.contains("unpaid") == true)
            let actions = try await fixture.gatehouse.audit.tail(limit: 100).map(\.action)
            #expect(actions.contains("payment.recorded") && actions.contains("payment.unmatched"))
        }
    }

    @Test("a signed but invalid event is 400 invalid-request, never a 500")
    func invalidEvents() async throws {
        let fixture = try ServerFixture()
        try await fixture.test { client in
            for body in ["{}", #"{"id":"","type":"x"}"#, #"{"id":"evt","type":7}"#, "[1,2]",
                         #"{"id":"evt_neg","type":"checkout.session.completed","data":{"object":{"amount_total":-5}}}"#,
                         #"{"id":"evt_noamount","type":"checkout.session.completed","data":{"object":{}}}"#] {
                let response = try await client.post("/api/v1/payment/webhook", json: body, headers: Self.signed(body, fixture: fixture))
                #expect(response.status == .badRequest, "\(body)")
                #expect(response.problemKind == "invalid-request", "\(body)")
            }
            let notJSON = "not json"
            let response = try await client.post("/api/v1/payment/webhook", json: notJSON, headers: Self.signed(notJSON, fixture: fixture))
            #expect(response.status == .badRequest)
        }
    }

    @Test("without a webhook secret the route answers 503 webhook-not-configured")
    func notConfigured() async throws {
        let fixture = try ServerFixture(options: { $0.webhookSecret = nil })
        try await fixture.test { client in
            let response = try await client.post("/api/v1/payment/webhook", json: "{}")
            #expect(response.status == .serviceUnavailable)
            #expect(response.problemKind == "webhook-not-configured")
        }
    }

    @Test("a Stripe-Signature with a thousand v1 values is refused after looking at eight: the body is MACed once")
    func signatureEntriesCapped() throws {
        let signer = WebhookSignature(secret: "whsec_cap")
        let body = Data(#"{"id":"evt_1"}"#.utf8)
        let now = Date()
        let valid = signer.header(for: body, at: now)
        let bogus = (0..<1000).map { _ in "v1=" + String(repeating: "ab", count: 32) }.joined(separator: ",")
        // The valid value first: accepted. Behind a thousand others: never reached.
        #expect(throws: Never.self) { try signer.verify(header: valid + "," + bogus, body: body, now: now) }
        let timestamp = valid.split(separator: ",")[0]
        let validV1 = valid.split(separator: ",")[1]
        #expect(throws: WebhookSignatureError.mismatch) {
            try signer.verify(header: "\(timestamp),\(bogus),\(validV1)", body: body, now: now)
        }
    }
}
