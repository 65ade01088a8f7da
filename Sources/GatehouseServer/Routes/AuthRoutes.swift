import Foundation
import GatehouseCore
import HTTPTypes
import Hummingbird

/// The token API: magic link → verify → refresh → me → logout.
struct AuthRoutes {
    let gatehouse: Gatehouse
    let options: ServerOptions
    let metrics: ServerMetrics
    var bearer: BearerAuthentication { BearerAuthentication(gatehouse: gatehouse) }

    static let magicLink = APIRoute(
        method: .post, path: "/api/v1/auth/magic-link", operationId: "requestMagicLink",
        summary: "Mail a single-use sign-in link (with --dev, the token is also returned)", tag: "auth",
        requestSchema: "EmailRequest", rateLimited: true,
        replies: [202: .init(description: "Accepted; the mail is queued for delivery (with --dev it stays in the outbox and dev_token carries the link's token)", schema: "MagicLinkAccepted"),
                  422: .problem("Not an email address")])
    static let verify = APIRoute(
        method: .post, path: "/api/v1/auth/verify", operationId: "verifyMagicLink",
        summary: "Exchange a magic-link token for an access and a refresh token", tag: "auth",
        requestSchema: "TokenRequest", rateLimited: true,
        replies: [200: .init(description: "Signed in", schema: "Tokens"),
                  401: .problem("Unknown, expired or already used link")])
    static let refresh = APIRoute(
        method: .post, path: "/api/v1/auth/refresh", operationId: "refreshTokens",
        summary: "Rotate a refresh token: a new access token and the family's next refresh token", tag: "auth",
        requestSchema: "RefreshRequest", rateLimited: true,
        replies: [200: .init(description: "Rotated", schema: "Tokens"),
                  401: .problem("Unknown, expired, revoked or reused token")])
    static let me = APIRoute(
        method: .get, path: "/api/v1/auth/me", operationId: "currentUser",
        summary: "The user and session of a bearer access token; 401 at once after a revocation", tag: "auth",
        security: .bearer,
        replies: [200: .init(description: "The signed-in user", schema: "Identity"),
                  401: .problem("Missing, invalid or expired token, or an ended session")])
    static let logout = APIRoute(
        method: .post, path: "/api/v1/auth/logout", operationId: "logout",
        summary: "End the session of a bearer access token and revoke its refresh family", tag: "auth",
        security: .bearer,
        replies: [204: .init(description: "Logged out"),
                  401: .problem("Missing or invalid token")])

    static let routes = [magicLink, verify, refresh, me, logout]

    func register(on router: Router<GatehouseRequestContext>) {
        router.add(Self.magicLink) { request, context in
            let body = try await JSONBody.decode(APIShapes.EmailBody.self, from: request)
            let issued = try await gatehouse.magicLinks.requestMagicLink(email: body.email, context: context.client)
            let accepted = APIShapes.MagicLinkAccepted(expires_in: Int(issued.expiresAt.timeIntervalSince(gatehouse.clock.now()).rounded()),
                                                       dev_token: options.dev ? issued.token.value : nil)
            var headers = Self.noStore
            RateLimitHeaders.apply(issued.rateLimit, to: &headers)
            return try JSONBody.response(accepted, status: .accepted, headers: headers)
        }
        router.add(Self.verify) { request, context in
            let body = try await JSONBody.decode(APIShapes.TokenBody.self, from: request)
            let login = try await gatehouse.magicLinks.verifyMagicLink(token: body.token, kind: .api, context: context.client)
            guard case .tokens(let pair) = login.credential else { throw Problem(.internalError, "login produced no tokens") }
            var headers = Self.noStore
            RateLimitHeaders.apply(login.rateLimit, to: &headers)
            return try JSONBody.response(APIShapes.Tokens(pair), headers: headers)
        }
        router.add(Self.refresh) { request, context in
            let body = try await JSONBody.decode(APIShapes.RefreshBody.self, from: request)
            let pair: TokenPair
            do {
                pair = try await gatehouse.refreshTokens.refresh(body.refresh_token, context: context.client)
            } catch AuthError.rateLimited(let decision) {
                metrics.recordRefresh(outcome: "rate_limited")
                throw AuthError.rateLimited(decision)
            } catch AuthError.invalidCredential(let failure) {
                metrics.recordRefresh(outcome: "refused")
                if failure == .reused { metrics.recordReuseDetected() }
                throw AuthError.invalidCredential(failure)
            }
            metrics.recordRefresh(outcome: "rotated")
            var headers = Self.noStore
            RateLimitHeaders.apply(pair.rateLimit, to: &headers)
            return try JSONBody.response(APIShapes.Tokens(pair), headers: headers)
        }
        router.add(Self.me) { request, context in
            let authenticated = try await bearer.session(request, context)
            return try JSONBody.response(APIShapes.Identity(authenticated), headers: Self.noStore)
        }
        router.add(Self.logout) { request, context in
            let authenticated = try await bearer.session(request, context)
            try await gatehouse.sessions.logout(sessionHandle: authenticated.session.handle, context: context.client)
            return Response(status: .noContent, headers: Self.noStore)
        }
    }

    /// Tokens and identities must not sit in shared caches.
    static let noStore: HTTPFields = [.cacheControl: "no-store"]
}
