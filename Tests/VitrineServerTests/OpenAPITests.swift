import Foundation
import Hummingbird
import HummingbirdTesting
import Testing
@testable import VitrineServer

@Suite("OpenAPI document")
struct OpenAPITests {
    @Test func everyRouteIsDocumentedAndEveryDocumentedOperationIsARoute() async throws {
        let server = try await ServerFixtures.server { $0.apiKeys = [ServerFixtures.apiKey] }
        // The rule: every route is documented except the web UI's own files and form target,
        // which live under /ui/ (the UI's page, `/`, takes parameters and is documented).
        let all = server.makeRouter().routes.map { (method: $0.method.rawValue, path: $0.path.description) }
        #expect(all.contains { $0.path.hasPrefix(WebUIRoutes.privatePrefix) })
        let routes = Set(all.filter { !$0.path.hasPrefix(WebUIRoutes.privatePrefix) }.map { "\($0.method) \($0.path)" })
        #expect(!OpenAPIDocument.operations.contains { $0.split(separator: " ").last!.hasPrefix(WebUIRoutes.privatePrefix) })
        #expect(!routes.isEmpty)
        #expect(routes.subtracting(OpenAPIDocument.operations).isEmpty, "undocumented routes: \(routes.subtracting(OpenAPIDocument.operations).sorted())")
        #expect(OpenAPIDocument.operations.subtracting(routes).isEmpty, "documented but not routed: \(OpenAPIDocument.operations.subtracting(routes).sorted())")
    }

    @Test func theServedDocumentIsOpenAPI31WithResolvableReferences() async throws {
        let server = try await ServerFixtures.server()
        try await ServerFixtures.test(server) { client in
            let response = try await client.execute(uri: "/openapi.json", method: .get)
            #expect(response.status == .ok)
            let document = try response.decode(JSONValue.self)
            // A server without a reranker documents rerank as false only; the rest is the document.
            #expect(document == OpenAPIDocument.withoutReranker)
            let search = document["paths"]?["/api/v1/search"]?["get"]?["parameters"]?.array ?? []
            #expect(search.first { $0["name"]?.string == "rerank" }?["schema"]?["enum"] == [false])
            #expect(OpenAPIDocument.document["paths"]?["/api/v1/search"]?["get"]?["parameters"]?.array?
                .first { $0["name"]?.string == "rerank" }?["schema"]?["enum"] == nil)
            #expect(document["openapi"]?.string == "3.1.0")
            // Every $ref names a schema that exists; every operation has an id and responses.
            let schemas = Set((document["components"]?["schemas"]?.object ?? [:]).keys)
            var refs: [String] = []
            func collect(_ value: JSONValue) {
                switch value {
                case .object(let members):
                    if let ref = members["$ref"]?.string { refs.append(ref) }
                    members.values.forEach(collect)
                case .array(let items): items.forEach(collect)
                default: break
                }
            }
            collect(document)
            #expect(!refs.isEmpty)
            for ref in refs { #expect(schemas.contains(String(ref.split(separator: "/").last!)), "\(ref)") }
            var ids = Set<String>()
            for (_, item) in document["paths"]?.object ?? [:] {
                for (_, operation) in item.object ?? [:] {
                    let id = try #require(operation["operationId"]?.string)
                    #expect(ids.insert(id).inserted, "duplicate operationId \(id)")
                    #expect(operation["responses"]?.object?.isEmpty == false)
                }
            }
        }
    }

    /// Real responses of the main routes match the schema the document gives for their status
    /// and content type.
    @Test func responsesMatchTheDocumentedShapes() async throws {
        let server = try await ServerFixtures.server { $0.apiKeys = [ServerFixtures.apiKey] }
        let validator = SchemaValidator(document: OpenAPIDocument.document)
        try await ServerFixtures.test(server) { client in
            var form = MultipartBuilder()
            form.add(name: "product", data: Data(#"{"id": "n1", "name": "new coat"}"#.utf8))
            form.add(name: "image", filename: "a.png", data: ServerFixtures.photo("gray.png"))
            let calls: [(method: HTTPRequest.Method, uri: String, path: String, headers: HTTPFields, body: ByteBuffer?)] = [
                (.get, "/api/v1/search?q=dress&k=3", "/api/v1/search", [:], nil),
                (.get, "/api/v1/search?q=", "/api/v1/search", [:], nil),
                (.get, "/api/v1/search?q=dress&k=0", "/api/v1/search", [:], nil),
                (.post, "/api/v1/search/image", "/api/v1/search/image", [:], ByteBuffer(bytes: ServerFixtures.photo("gray.png"))),
                (.post, "/api/v1/search/image", "/api/v1/search/image", [:], ByteBuffer(string: "nope")),
                (.get, "/api/v1/products/p1/similar", "/api/v1/products/{id}/similar", [:], nil),
                (.get, "/api/v1/products/zz/similar", "/api/v1/products/{id}/similar", [:], nil),
                (.get, "/api/v1/products/p4", "/api/v1/products/{id}", [:], nil),
                (.get, "/api/v1/products/zz", "/api/v1/products/{id}", [:], nil),
                (.get, "/api/v1/categories", "/api/v1/categories", [:], nil),
                (.get, "/api/v1/markets", "/api/v1/markets", [:], nil),
                (.get, "/healthz", "/healthz", [:], nil),
                (.get, "/readyz", "/readyz", [:], nil),
                (.get, "/images/nope", "/images/{key}", [:], nil),
                (.post, "/api/v1/products", "/api/v1/products", [.contentType: form.contentType], form.finished()),
                (.post, "/api/v1/products", "/api/v1/products",
                 [.contentType: form.contentType, .authorization: "Bearer \(ServerFixtures.apiKey)"], form.finished()),
                (.delete, "/api/v1/products/zz", "/api/v1/products/{id}", [.authorization: "Bearer \(ServerFixtures.apiKey)"], nil),
            ]
            for call in calls {
                let response = try await client.execute(uri: call.uri, method: call.method, headers: call.headers, body: call.body)
                let operation = try #require(OpenAPIDocument.document["paths"]?[call.path]?[call.method.rawValue.lowercased()], "\(call.method) \(call.path)")
                let documented = operation["responses"]?[String(response.status.code)]
                #expect(documented != nil, "\(call.method) \(call.uri): status \(response.status.code) is not documented")
                let schema = try #require((documented ?? operation["responses"]?["default"])?["content"]?["application/json"]?["schema"],
                                          "\(call.method) \(call.uri) → \(response.status.code): no JSON schema")
                // Any status: errors have a documented shape too.
                let body = try JSONDecoder().decode(JSONValue.self, from: response.data)
                let problems = validator.violations(body, schema)
                #expect(problems.isEmpty, "\(call.method) \(call.uri) → \(response.status.code): \(problems)")
            }
        }
    }

    @Test func theValidatorRejectsWrongShapes() {
        let validator = SchemaValidator(document: OpenAPIDocument.document)
        let ref: JSONValue = ["$ref": "#/components/schemas/SearchResponse"]
        #expect(!validator.violations(["query": "q", "truncated": false, "offset": 0, "results": [["id": "x"]]], ref).isEmpty)
        #expect(!validator.violations(["query": "q", "truncated": "no", "offset": 0, "results": []], ref).isEmpty)
        #expect(!validator.violations(["query": "q", "truncated": false, "offset": 0, "results": [], "extra": 1], ref).isEmpty)
        #expect(validator.violations(["query": "q", "truncated": false, "offset": 0, "results": []], ref).isEmpty)
    }
}
