import Foundation
import GatehouseCore
import HTTPTypes
import Hummingbird

/// The cookie flow for browsers: login (regenerating the session id), the current session,
/// logout.
///
/// The server never sets a cookie for an anonymous visitor and never clears a cookie it did
/// not issue: a cookie of the same name from another app on this host (RFC 6265 §8.5) is left
/// alone, so this server cannot log users out of that app either.
struct BrowserSessionRoutes {
    let gatehouse: Gatehouse
    let options: ServerOptions

    static let login = APIRoute(
        method: .post, path: "/session/login", operationId: "browserLogin",
        summary: "Exchange a magic-link token for a session cookie; an existing session of the same user keeps its handle and gets a new id",
        tag: "browser", requestSchema: "TokenRequest", rateLimited: true,
        replies: [200: .init(description: "Signed in; Set-Cookie carries the session", schema: "Identity"),
                  401: .problem("Unknown, expired or already used link")])
    static let current = APIRoute(
        method: .get, path: "/session", operationId: "browserSession",
        summary: "The session of the cookie; a previous id inside its grace period is still served", tag: "browser",
        security: .cookie,
        replies: [200: .init(description: "The signed-in user", schema: "Identity"),
                  401: .problem("No cookie, or a cookie that no longer works")])
    static let logout = APIRoute(
        method: .post, path: "/session/logout", operationId: "browserLogout",
        summary: "End the cookie's session and clear the cookie", tag: "browser", security: .optionalCookie,
        replies: [204: .init(description: "Logged out (also when there was nothing to end)")])

    static let routes = [login, current, logout]

    func register(on router: Router<GatehouseRequestContext>) {
        router.add(Self.login) { request, context in
            let body = try await JSONBody.decode(APIShapes.TokenBody.self, from: request)
            let login = try await gatehouse.magicLinks.verifyMagicLink(
                token: body.token, kind: .web, context: context.client, currentCookies: presentedCookies(request))
            guard case .cookie(let secret) = login.credential else { throw Problem(.internalError, "login produced no cookie") }
            var headers = AuthRoutes.noStore
            RateLimitHeaders.apply(login.rateLimit, to: &headers)
            var response = try JSONBody.response(
                APIShapes.Identity(session: login.session, user: login.user),
                headers: headers)
            let lifetime = login.session.absoluteExpiresAt.timeIntervalSince(gatehouse.clock.now())
            response.setCookie(cookie(value: secret.value, maxAge: max(0, Int(lifetime))))
            return response
        }
        router.add(Self.current) { request, context in
            let authenticated = try await session(of: request, context)
            // A previous id inside its grace period is served as the session. No Set-Cookie:
            // the new id went out with the login response, and only its hash is stored.
            return try JSONBody.response(APIShapes.Identity(authenticated), headers: AuthRoutes.noStore)
        }
        router.add(Self.logout) { request, context in
            var response = Response(status: .noContent, headers: AuthRoutes.noStore)
            do {
                let authenticated = try await session(of: request, context)
                try await gatehouse.sessions.logout(sessionHandle: authenticated.session.handle, context: context.client)
                response.setCookie(cookie(value: "", maxAge: 0))
            } catch AuthError.invalidCredential(let failure) {
                // A cookie of ours that no longer works is cleared; an unknown or malformed one
                // may be another app's and is left to its owner.
                if failure != .unknown && failure != .malformed { response.setCookie(cookie(value: "", maxAge: 0)) }
            } catch let problem as Problem where problem.kind == .unauthenticated {
                // No cookie at all: nothing to end.
            }
            return response
        }
    }

    /// Every value the browser sent under our cookie name (it may send several: same name,
    /// other paths or domains).
    private func presentedCookies(_ request: Request) -> [String] {
        request.headers[values: .cookie].flatMap { $0.split(separator: ";") }.compactMap { pair in
            let parts = pair.split(separator: "=", maxSplits: 1)
            guard parts.count == 2, parts[0].trimmingCharacters(in: .whitespaces) == options.cookieName else { return nil }
            return parts[1].trimmingCharacters(in: .whitespaces)
        }
    }

    /// The session of the first presented value that works; else the most telling refusal.
    /// Core tries at most `SessionService.maxPresentedSecrets` values, in one read and at most
    /// one write, however many the request carries.
    private func session(of request: Request, _ context: GatehouseRequestContext) async throws -> AuthenticatedSession {
        let values = presentedCookies(request)
        guard !values.isEmpty else {
            throw Problem(.unauthenticated, "no '\(options.cookieName)' cookie; sign in first")
        }
        return try await gatehouse.sessions.authenticate(anyOf: values, context: context.client, cookieName: options.cookieName)
    }

    private func cookie(value: String, maxAge: Int) -> Cookie {
        Cookie(name: options.cookieName, value: value, maxAge: maxAge, path: "/", secure: !options.insecureCookies,
               httpOnly: true, sameSite: .lax)
    }
}
