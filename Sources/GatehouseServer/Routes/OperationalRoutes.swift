import Foundation
import GatehouseCore
import HTTPTypes
import Hummingbird

/// Health, metrics, the public signing keys and the API description.
struct OperationalRoutes {
    let gatehouse: Gatehouse
    let metrics: ServerMetrics
    let openAPI: @Sendable () -> Data

    static let health = APIRoute(
        method: .get, path: "/healthz", operationId: "health", summary: "Liveness and database readiness", tag: "operations",
        replies: [200: .init(description: "Serving", schema: "Health"),
                  503: .problem("The database cannot be read, or is corrupt (the detail says how to recover)")])
    static let metricsRoute = APIRoute(
        method: .get, path: "/metrics", operationId: "metrics", summary: "Prometheus metrics", tag: "operations",
        replies: [200: .init(description: "Prometheus text exposition format", schema: nil, contentType: Self.metricsContentType)])
    static let metricsContentType = "text/plain; version=0.0.4; charset=utf-8"
    static let jwks = APIRoute(
        method: .get, path: "/.well-known/jwks.json", operationId: "jwks",
        summary: "The public keys that verify access tokens (ES256)", tag: "operations",
        replies: [200: .init(description: "JSON Web Key Set", schema: "JWKS", contentType: Self.jwksContentType)])
    /// RFC 7517 §8.5.
    static let jwksContentType = "application/jwk-set+json"
    static let openAPIRoute = APIRoute(
        method: .get, path: "/openapi.json", operationId: "openapi", summary: "This document (OpenAPI 3.1)", tag: "operations",
        replies: [200: .init(description: "OpenAPI 3.1 document", schema: nil)])

    static let routes = [health, metricsRoute, jwks, openAPIRoute]

    func register(on router: Router<GatehouseRequestContext>) {
        router.add(Self.health) { _, _ in
            if let damage = gatehouse.database.corruptionFound {
                // SQLite's words, not the path: the server's log has the file and how to recover.
                throw Problem(.serviceUnavailable, "the database file is corrupt (SQLite: \(damage)); writes are refused until an operator restores or recovers it (the server log says how)",
                              headers: [.retryAfter: "300"])
            }
            do {
                let schema = try await gatehouse.database.schemaVersion()
                return try JSONBody.response(APIShapes.Health(status: "ok", schema: schema))
            } catch {
                throw Problem(.serviceUnavailable, gatehouse.database.explain(error), headers: [.retryAfter: "5"])
            }
        }
        router.add(Self.metricsRoute) { _, _ in
            metrics.recordWrites(gatehouse.database.writeStatistics)
            return JSONBody.response(bytes: metrics.exposition(), contentType: Self.metricsContentType)
        }
        router.add(Self.jwks) { _, _ in
            let document = try await gatehouse.accessTokens.jwks()
            return JSONBody.response(bytes: Array(document.utf8), headers: [.cacheControl: "public, max-age=300"],
                                     contentType: Self.jwksContentType)
        }
        router.add(Self.openAPIRoute) { _, _ in
            JSONBody.response(bytes: openAPI(), contentType: "application/json")
        }
    }
}
