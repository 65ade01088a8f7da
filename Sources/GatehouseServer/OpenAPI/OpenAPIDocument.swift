/// Builds the OpenAPI 3.1 document of a `RouteCatalog`. Responses every route can give
/// (malformed bodies, 413, 415, 429 on limited routes, 401 on authenticated ones, and the edge's
/// 408/414/431 and the database's 503 on all) are added here, once.
///
/// CI holds the document to the server with schemathesis (`Tests/openapi-conformance.sh`).
enum OpenAPIDocument {
    static func make(catalog: RouteCatalog, cookieName: String, version: String) -> JSONValue {
        var paths: [String: [String: JSONValue]] = [:]
        for route in catalog.routes {
            paths[route.path, default: [:]][route.method.rawValue.lowercased()] = operation(route)
        }
        return [
            "openapi": "3.1.0",
            "info": [
                "title": "Gatehouse API", "version": .string(version),
                "description": "Magic-link login, cookie sessions, rotating refresh tokens and payment webhooks. Errors are RFC 9457 problems.",
            ],
            "paths": .object(paths.mapValues { .object($0) }),
            "components": [
                "schemas": .object(OpenAPISchemas.all),
                "securitySchemes": [
                    "bearer": ["type": "http", "scheme": "bearer", "bearerFormat": "JWT"],
                    "cookie": ["type": "apiKey", "in": "cookie", "name": .string(cookieName)],
                ],
            ],
        ]
    }

    private static func operation(_ route: APIRoute) -> JSONValue {
        var responses: [String: JSONValue] = [:]
        for (status, reply) in route.replies { responses[String(status)] = response(reply, status: status) }
        let problem = { (description: String) in response(.problem(description)) }
        if route.requestSchema != nil {
            responses["400"] = responses["400"] ?? problem("Malformed JSON or a body of the wrong shape")
            responses["413"] = problem("Body larger than 64 KiB")
            responses["415"] = problem("Content-Type is not application/json")
        }
        if route.security == .bearer || route.security == .cookie {
            responses["401"] = responses["401"] ?? problem("Missing, invalid or expired credential")
        }
        // Any request can meet these: the HTTP edge's refusals and a database that is busy
        // past its wait, out of disk, or in need of repair.
        responses["408"] = problem("The request head or body did not arrive in time (serve --header-timeout, --body-timeout)")
        responses["414"] = problem("The request line is longer than the server reads")
        responses["431"] = problem("The request headers are too large")
        responses["503"] = responses["503"] ?? problem("The database is busy, out of disk or needs repair; see Retry-After")
        if route.rateLimited {
            responses["429"] = .object([
                "description": "Rate limit exceeded; see Retry-After",
                "headers": [
                    "Retry-After": ["schema": ["type": "integer"]],
                    "RateLimit": ["schema": ["type": "string"]],
                    "RateLimit-Policy": ["schema": ["type": "string"]],
                ],
                "content": ["application/problem+json": ["schema": ["$ref": "#/components/schemas/Problem"]]],
            ])
        }
        var operation: [String: JSONValue] = [
            "operationId": .string(route.operationId), "summary": .string(route.summary),
            "tags": [.string(route.tag)], "responses": .object(responses),
        ]
        var parameters: [JSONValue] = route.path.split(separator: "/").filter { $0.hasPrefix("{") }.map { segment in
            ["name": .string(String(segment.dropFirst().dropLast())), "in": "path", "required": true, "schema": ["type": "integer"]]
        }
        parameters += route.queryParameters.map { ["name": .string($0), "in": "query", "required": false, "schema": ["type": "string"]] }
        parameters += route.requiredHeaders.map {
            ["name": .string($0.name), "in": "header", "required": true, "description": .string($0.description), "schema": ["type": "string"]]
        }
        if !parameters.isEmpty { operation["parameters"] = .array(parameters) }
        if let schema = route.requestSchema {
            operation["requestBody"] = ["required": true, "content": ["application/json": ["schema": ref(schema)]]]
        }
        switch route.security {
        case .none: break
        case .bearer: operation["security"] = [["bearer": []]]
        case .cookie: operation["security"] = [["cookie": []]]
        case .optionalCookie: operation["security"] = [["cookie": []], [:]]
        }
        return .object(operation)
    }

    private static func response(_ reply: APIRoute.Reply, status: Int = 0) -> JSONValue {
        let schema: JSONValue
        switch (reply.schema, status) {
        case (_, 204), (_, 304): return ["description": .string(reply.description)]
        case (let name?, _): schema = ref(name)
        case (nil, _): schema = reply.contentType.hasPrefix("text/") ? ["type": "string"] : ["type": "object"]
        }
        var content: [String: JSONValue] = [reply.contentType: ["schema": schema]]
        for type in reply.otherContentTypes {
            content[type] = ["schema": type.hasPrefix("text/") ? ["type": "string"] : ["type": "object"]]
        }
        return ["description": .string(reply.description), "content": .object(content)]
    }

    private static func ref(_ schema: String) -> JSONValue { ["$ref": .string("#/components/schemas/\(schema)")] }
}
