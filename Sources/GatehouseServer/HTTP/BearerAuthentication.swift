import GatehouseCore
import HTTPTypes
import Hummingbird

/// `Authorization: Bearer ACCESS_TOKEN`, checked against the database on every request, so
/// that a revoked session is refused at once whatever the token's own expiry says.
struct BearerAuthentication {
    let gatehouse: Gatehouse

    func session(_ request: Request, _ context: GatehouseRequestContext) async throws -> AuthenticatedSession {
        guard let header = request.headers[.authorization], header.lowercased().hasPrefix("bearer "),
              case let token = header.dropFirst("bearer ".count).trimmingCharacters(in: .whitespaces), !token.isEmpty else {
            throw Problem(.unauthenticated, "send Authorization: Bearer ACCESS_TOKEN",
                          headers: [.wwwAuthenticate: "Bearer realm=\"gatehouse\""])
        }
        do {
            return try await gatehouse.authenticateAccessToken(token, context: context.client)
        } catch AuthError.invalidCredential(let failure) {
            var problem = ErrorMapping.problem(for: AuthError.invalidCredential(failure))
            problem.headers[.wwwAuthenticate] = "Bearer realm=\"gatehouse\", error=\"invalid_token\""
            throw problem
        }
    }
}
