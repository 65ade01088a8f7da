import Foundation
import GatehouseCore

/// The JSON bodies of the API, named as the wire names them. The OpenAPI schemas in
/// `OpenAPISchemas` describe the same shapes; a test decodes real responses against both.
enum APIShapes {
    struct EmailBody: Decodable { var email: String }
    struct TokenBody: Decodable { var token: String }
    struct RefreshBody: Decodable { var refresh_token: String }

    struct MagicLinkAccepted: Encodable {
        var detail = "if the address can receive mail, a sign-in link is on its way"
        var expires_in: Int
        /// Only with `serve --dev`: lets a developer finish the login without a mailbox.
        var dev_token: String?
    }

    struct Tokens: Encodable {
        var access_token: String
        var refresh_token: String
        var token_type = "bearer"
        var expires_in: Int

        init(_ pair: TokenPair) {
            access_token = pair.accessToken
            refresh_token = pair.refreshToken.value
            expires_in = pair.expiresIn
        }
    }

    /// `GET /api/v1/auth/me` and `GET /session`.
    struct Identity: Encodable {
        struct UserPart: Encodable { var id: Int64; var email: String; var credits: Int64 }
        struct SessionPart: Encodable { var handle: String; var created_at: Date; var expires_at: Date }
        var user: UserPart
        var session: SessionPart

        init(session: Session, user: User) {
            self.user = UserPart(id: user.id, email: user.email, credits: user.credits)
            self.session = SessionPart(handle: session.handle, created_at: session.createdAt, expires_at: session.expiresAt)
        }

        init(_ authenticated: AuthenticatedSession) {
            self.init(session: authenticated.session, user: authenticated.user)
        }
    }

    struct WebhookReceipt: Encodable {
        var received = true
        var event: String
        var outcome: String
        var duplicate: Bool

        init(_ result: PaymentWebhookResult) {
            event = result.eventId
            outcome = result.outcome.rawValue
            duplicate = result.duplicate
        }
    }

    struct Health: Encodable {
        var status: String
        var schema: String?
    }
}
