import Foundation
import GatehouseCore
import HTTPTypes
import Hummingbird

/// `POST /api/v1/payment/webhook`: Stripe-signed events, applied once per event id.
struct PaymentWebhookRoutes {
    let gatehouse: Gatehouse
    let options: ServerOptions

    static let signatureHeader = HTTPField.Name("Stripe-Signature")!

    static let webhook = APIRoute(
        method: .post, path: "/api/v1/payment/webhook", operationId: "paymentWebhook",
        summary: "Stripe-compatible payment events; checkout.session.completed credits the user in metadata.gatehouse_user, once per event id",
        tag: "payments", requestSchema: "PaymentEvent",
        requiredHeaders: [("Stripe-Signature", "t=UNIX_SECONDS,v1=HEX: HMAC-SHA256 of \"t.body\" under the endpoint secret (Stripe's scheme)")],
        replies: [200: .init(description: "Received (also for a duplicate delivery)", schema: "WebhookReceipt"),
                  400: .problem("Bad or stale signature, or an invalid event"),
                  503: .problem("No webhook secret configured")])

    static let routes = [webhook]

    func register(on router: Router<GatehouseRequestContext>) {
        let signature = options.webhookSecret.map { WebhookSignature(secret: $0) }
        router.add(Self.webhook) { request, context in
            guard let signature else {
                throw Problem(.webhookNotConfigured, "start the server with --webhook-secret or GATEHOUSE_WEBHOOK_SECRET")
            }
            // The signature covers the exact bytes received, so the body is read raw first.
            let payload = try await JSONBody.raw(request)
            try signature.verify(header: request.headers[Self.signatureHeader], body: payload, now: gatehouse.clock.now())
            let result = try await gatehouse.payments.receive(payload: payload, context: context.client)
            return try JSONBody.response(APIShapes.WebhookReceipt(result))
        }
    }
}
