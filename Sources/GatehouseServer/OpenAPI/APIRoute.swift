import HTTPTypes
import Hummingbird

/// One route of the API: what the router registers and what `/openapi.json` documents, from
/// the same value, so the two cannot drift apart (a test also walks the router to be sure).
public struct APIRoute: Sendable {
    /// `optionalCookie`: the route reads the cookie when there is one and answers without it.
    public enum Security: Sendable { case none, bearer, cookie, optionalCookie }

    public struct Reply: Sendable {
        var description: String
        /// A `#/components/schemas` name; nil for an empty body.
        var schema: String?
        var contentType = "application/json"
        /// More types the same answer may come in (a document's own type).
        var otherContentTypes: [String] = []

        /// An error answer, documented as an RFC 9457 problem.
        static func problem(_ description: String) -> Reply {
            Reply(description: description, schema: "Problem", contentType: "application/problem+json")
        }
    }

    public let method: HTTPRequest.Method
    /// OpenAPI template syntax: `/api/v1/documents/jobs/{id}`.
    public let path: String
    let operationId: String
    let summary: String
    let tag: String
    var security: Security = .none
    /// A `#/components/schemas` name for the JSON request body.
    var requestSchema: String? = nil
    /// Whether a Core rate-limit policy applies (429 and the `RateLimit` fields).
    var rateLimited = false
    /// Optional query parameters (strings).
    var queryParameters: [String] = []
    /// Request headers the route requires, with what they carry.
    var requiredHeaders: [(name: String, description: String)] = []
    var replies: [Int: Reply]

    /// The same template in Hummingbird's syntax (`:id`).
    var routerPath: String {
        path.split(separator: "/", omittingEmptySubsequences: false).map { segment in
            segment.hasPrefix("{") && segment.hasSuffix("}") ? ":" + segment.dropFirst().dropLast() : segment
        }.joined(separator: "/")
    }

    /// Whether `requestPath` is an instance of this template.
    func matches(_ requestPath: String) -> Bool {
        let template = path.split(separator: "/")
        let actual = requestPath.split(separator: "/")
        guard template.count == actual.count else { return false }
        return zip(template, actual).allSatisfy { pattern, value in pattern.hasPrefix("{") || pattern == value }
    }
}

/// Every route of the server.
public struct RouteCatalog: Sendable {
    public let routes: [APIRoute]

    /// The methods some route accepts at `path`: a non-empty answer turns a 404 into a 405.
    func methods(forPath path: String) -> [HTTPRequest.Method] {
        routes.filter { $0.matches(path) }.map(\.method)
    }
}

extension Router where Context == GatehouseRequestContext {
    /// Registers `handler` for `route`.
    func add(_ route: APIRoute, _ handler: @escaping @Sendable (Request, Context) async throws -> Response) {
        on(RouterPath(route.routerPath), method: route.method, use: handler)
    }
}
