/// JSON Schemas (2020-12, as OpenAPI 3.1 uses) of the bodies in `APIShapes`.
enum OpenAPISchemas {
    static func object(_ properties: [String: JSONValue], required: [String]) -> JSONValue {
        ["type": "object", "properties": .object(properties), "required": .array(required.map { .string($0) })]
    }

    static let string: JSONValue = ["type": "string"]
    static let integer: JSONValue = ["type": "integer"]
    static let boolean: JSONValue = ["type": "boolean"]
    static let dateTime: JSONValue = ["type": "string", "format": "date-time"]

    static let all: [String: JSONValue] = [
        "EmailRequest": object(["email": ["type": "string", "format": "email", "maxLength": 254]], required: ["email"]),
        "TokenRequest": object(["token": ["type": "string", "description": "The token from the magic link"]], required: ["token"]),
        "RefreshRequest": object(["refresh_token": string], required: ["refresh_token"]),
        "MagicLinkAccepted": object([
            "detail": string, "expires_in": integer,
            "dev_token": ["type": "string", "description": "Only when the server runs with --dev"],
        ], required: ["detail", "expires_in"]),
        "Tokens": object([
            "access_token": ["type": "string", "description": "ES256 JWT; verify with /.well-known/jwks.json"],
            "refresh_token": ["type": "string", "description": "Single use: each refresh returns the next one"],
            "token_type": ["type": "string", "enum": ["bearer"]],
            "expires_in": ["type": "integer", "description": "Seconds until the access token expires"],
        ], required: ["access_token", "refresh_token", "token_type", "expires_in"]),
        "Identity": object([
            "user": object(["id": integer, "email": string, "credits": integer], required: ["id", "email", "credits"]),
            "session": object(["handle": string, "created_at": dateTime, "expires_at": dateTime],
                              required: ["handle", "created_at", "expires_at"]),
        ], required: ["user", "session"]),
        "PaymentEvent": object([
            "id": string, "type": string,
            "data": object(["object": object([
                "amount_total": integer, "currency": string, "payment_status": string,
                "metadata": object(["gatehouse_user": ["type": "string", "format": "email"]], required: []),
            ], required: [])], required: []),
        ], required: ["id", "type"]),
        "WebhookReceipt": object([
            "received": boolean, "event": string,
            "outcome": ["type": "string", "enum": ["credited", "recorded", "unmatched"]],
            "duplicate": ["type": "boolean", "description": "True when this event id was already processed"],
        ], required: ["received", "event", "outcome", "duplicate"]),
        "DocumentJobRequest": object(["kind": ["type": "string", "enum": ["user-export"]]], required: ["kind"]),
        "DocumentJob": object([
            "id": integer, "kind": string,
            "state": ["type": "string", "enum": ["queued", "running", "succeeded", "failed", "cancelled"]],
            "progress": ["type": "integer", "minimum": 0, "maximum": 100], "progress_note": ["type": ["string", "null"]],
            "attempts": integer, "created_at": dateTime, "finished_at": ["type": ["string", "null"], "format": "date-time"],
            "documents": ["type": "array", "items": object(["name": string, "media_type": string, "size": integer, "sha256": string,
                                                            "url": string], required: ["name", "media_type", "size", "sha256", "url"])],
        ], required: ["id", "kind", "state", "progress", "attempts", "created_at", "documents"]),
        "Health": object(["status": string, "schema": ["type": ["string", "null"]]], required: ["status"]),
        "JWKS": object(["keys": ["type": "array", "items": ["type": "object"]]], required: ["keys"]),
        "Problem": object([
            "type": ["type": "string", "format": "uri", "enum": .array(ProblemKind.allCases.map { .string($0.typeURI) })],
            "title": string, "status": integer, "detail": string, "request_id": string,
            "reason": ["type": "string", "description": "For invalid-credential: why (expired, revoked, reused…)"],
            "policy": ["type": "string", "description": "For rate-limited: the policy that refused"],
        ], required: ["type", "title", "status", "detail"]),
    ]
}
