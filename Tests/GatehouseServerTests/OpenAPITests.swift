import Foundation
import GatehouseCore
import GatehouseServer
import GatehouseTestSupport
import HTTPTypes
import HummingbirdTesting
import Testing

@Suite("OpenAPI document")
struct OpenAPITests {
    static func document(_ client: any TestClientProtocol) async throws -> [String: Any] {
        let response = try await client.get("/openapi.json")
        #expect(response.status == .ok)
        return response.json
    }

    @Test("every route the router has is documented with its method, and nothing else is")
    func routerAndDocumentAgree() async throws {
        let fixture = try ServerFixture()
        let router = fixture.server.makeRouter()
        let registered = Set(router.routes.map { "\($0.method.rawValue) \($0.path.description)" })
        try await fixture.test { client in
            let document = try await Self.document(client)
            #expect(document["openapi"] as? String == "3.1.0")
            let paths = try #require(document["paths"] as? [String: [String: Any]])
            let documented = Set(paths.flatMap { path, operations in operations.keys.map { "\($0.uppercased()) \(path)" } })
            #expect(registered == documented)
            #expect(registered.count >= 13)
        }
    }

    @Test("every $ref resolves, every operation has an id, responses, and the error responses of its kind")
    func documentIsComplete() async throws {
        try await ServerFixture().test { client in
            let document = try await Self.document(client)
            let schemas = try #require((document["components"] as? [String: Any])?["schemas"] as? [String: Any])
            var refs: [String] = []
            func collect(_ value: Any) {
                if let object = value as? [String: Any] {
                    if let ref = object["$ref"] as? String { refs.append(ref) }
                    object.values.forEach(collect)
                } else if let array = value as? [Any] {
                    array.forEach(collect)
                }
            }
            collect(document)
            #expect(!refs.isEmpty)
            for ref in refs {
                let name = ref.replacingOccurrences(of: "#/components/schemas/", with: "")
                #expect(schemas[name] != nil, "\(ref) does not resolve")
            }
            let paths = try #require(document["paths"] as? [String: [String: [String: Any]]])
            var operationIds: Set<String> = []
            for (path, operations) in paths {
                for (method, operation) in operations {
                    let id = try #require(operation["operationId"] as? String, "\(method) \(path)")
                    #expect(operationIds.insert(id).inserted, "duplicate operationId \(id)")
                    let responses = try #require(operation["responses"] as? [String: Any])
                    #expect(!responses.isEmpty)
                    if operation["requestBody"] != nil {
                        #expect(responses["400"] != nil && responses["413"] != nil && responses["415"] != nil, "\(path)")
                    }
                }
            }
            let refresh = try #require(paths["/api/v1/auth/refresh"]?["post"]?["responses"] as? [String: Any])
            #expect(refresh["429"] != nil && refresh["401"] != nil)
            let me = try #require(paths["/api/v1/auth/me"]?["get"])
            #expect((me["security"] as? [[String: Any]])?.first?["bearer"] != nil)
        }
    }

    @Test("real responses have every field their documented schema requires, with the documented types")
    func responsesMatchSchemas() async throws {
        let fixture = try ServerFixture()
        try await fixture.test { client in
            let document = try await Self.document(client)
            let schemas = try #require((document["components"] as? [String: Any])?["schemas"] as? [String: [String: Any]])
            let link = try await client.post("/api/v1/auth/magic-link", json: #"{"email":"a@example.com"}"#)
            let verify = try await client.post("/api/v1/auth/verify", json: #"{"token":"\#(link.json["dev_token"] as! String)"}"#)
            let tokens = try Tokens(verify.json)
            let samples: [(String, TestResponse)] = [
                ("MagicLinkAccepted", link), ("Tokens", verify),
                ("Identity", try await client.get("/api/v1/auth/me", headers: tokens.bearer)),
                ("Health", try await client.get("/healthz")),
                ("JWKS", try await client.get("/.well-known/jwks.json")),
                ("Problem", try await client.get("/nothing")),
                ("DocumentJob", try await client.post("/api/v1/documents/jobs", json: #"{"kind":"user-export"}"#, headers: tokens.bearer)),
                ("Problem", try await client.post("/api/v1/auth/refresh", json: #"{"refresh_token":"x"}"#)),
            ]
            for (schema, response) in samples {
                let problems = Self.violations(of: response.json, against: try #require(schemas[schema]), schemas: schemas)
                #expect(problems.isEmpty, "\(schema): \(problems)")
            }
        }
    }

    /// A deliberately small JSON Schema check: object, required, and primitive `type`s.
    static func violations(of value: Any, against schema: [String: Any], schemas: [String: [String: Any]], at path: String = "") -> [String] {
        if let ref = schema["$ref"] as? String, let target = schemas[ref.replacingOccurrences(of: "#/components/schemas/", with: "")] {
            return violations(of: value, against: target, schemas: schemas, at: path)
        }
        let types: [String] = (schema["type"] as? [String]) ?? ((schema["type"] as? String).map { [$0] } ?? [])
        func matches(_ type: String) -> Bool {
            switch type {
            case "object": value is [String: Any]
            case "array": value is [Any]
            case "string": value is String
            case "integer": (value as? NSNumber).map { Double($0.int64Value) == $0.doubleValue } ?? false
            case "boolean": value is Bool
            case "null": value is NSNull
            default: true
            }
        }
        if !types.isEmpty, !types.contains(where: matches) { return ["\(path): expected \(types)"] }
        guard let object = value as? [String: Any] else { return [] }
        var found: [String] = []
        for key in schema["required"] as? [String] ?? [] where object[key] == nil { found.append("\(path).\(key) missing") }
        for (key, child) in schema["properties"] as? [String: [String: Any]] ?? [:] {
            if let member = object[key] { found += violations(of: member, against: child, schemas: schemas, at: "\(path).\(key)") }
        }
        return found
    }
}
