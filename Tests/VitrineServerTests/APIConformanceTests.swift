import Foundation
import Hummingbird
import HummingbirdTesting
import Testing
@testable import VitrineServer

/// What the API fuzz run (tests/e2e, schemathesis) found where the server and its OpenAPI
/// document disagreed, each kept fixed here.
@Suite("API conformance")
struct APIConformanceTests {
    /// A path that exists answers an undocumented method with 405 and `Allow`, not 404.
    @Test func aKnownPathWithAnotherMethodIs405WithAllow() async throws {
        let server = try await ServerFixtures.server()
        try await ServerFixtures.test(server) { client in
            let trace = try await client.execute(uri: "/api/v1/search?q=x", method: .init("TRACE")!)
            #expect(trace.status == .methodNotAllowed)
            #expect(trace.headers[.allow] == "GET")
            #expect(try trace.error().code == "method_not_allowed")
            let patch = try await client.execute(uri: "/api/v1/products/p1", method: .patch)
            #expect(patch.status == .methodNotAllowed)
            #expect(patch.headers[.allow] == "DELETE, GET, PUT")
            let post = try await client.execute(uri: "/healthz", method: .post)
            #expect(post.headers[.allow] == "GET")
            // Unknown paths stay 404.
            let unknown = try await client.execute(uri: "/api/v1/nothing", method: .get)
            #expect(unknown.status == .notFound)
            #expect(try unknown.error().code == "not_found")
        }
    }

    /// A number parameter given empty, or any parameter given twice, is refused rather than read
    /// as the default or the first value.
    @Test(arguments: ["/api/v1/search?q=dress&k=", "/api/v1/search?q=dress&min_score=", "/api/v1/search?q=dress&q=shoes",
                      "/?q=dress&page=&page=2", "/?q=dress&k=", "/images/\(String(repeating: "a", count: 64)).png?w="])
    func emptyNumbersAndRepeatedParametersAre400(uri: String) async throws {
        let server = try await ServerFixtures.server()
        try await ServerFixtures.test(server) { client in
            let response = try await client.execute(uri: uri, method: .get)
            #expect(response.status == .badRequest, "\(uri)")
        }
    }

    /// Lengths are counted as the document counts them (Unicode scalars), not in bytes or
    /// grapheme clusters.
    @Test func lengthLimitsCountUnicodeScalars() async throws {
        let server = try await ServerFixtures.server()
        try await ServerFixtures.test(server) { client in
            // 1,000 three-byte characters: within the documented 1,024, so a plain "not found".
            let longID = HTML.percentEncode(String(repeating: "ž", count: 1000))
            #expect(try await client.execute(uri: "/api/v1/products/\(longID)", method: .get).status == .notFound)
            let tooLong = HTML.percentEncode(String(repeating: "a", count: 1025))
            #expect(try await client.execute(uri: "/api/v1/products/\(tooLong)", method: .get).status == .badRequest)
            // 1,002 scalars in 501 characters: over the documented maxLength of q.
            let combining = HTML.percentEncode(String(repeating: "e\u{301}", count: 501))
            let q = try await client.execute(uri: "/api/v1/search?q=\(combining)", method: .get)
            #expect(q.status == .badRequest)
            #expect(try q.error().code == "invalid_query")
            let page = try await client.execute(uri: "/?q=\(combining)", method: .get)
            #expect(page.status == .badRequest)
            let filter = HTML.percentEncode(String(repeating: "e\u{301}", count: 101))
            #expect(try await client.execute(uri: "/api/v1/search?q=dress&market=\(filter)", method: .get).status == .badRequest)
        }
    }

    /// The document says what the server refuses: NUL characters in ids and filters, writes
    /// without an image, a new product without an id.
    @Test func theDocumentStatesTheRefusedInputs() {
        let document = OpenAPIDocument.document
        let id = document["paths"]?["/api/v1/products/{id}"]?["get"]?["parameters"]?.array?.first?["schema"]
        #expect(id?["maxLength"] == .number(1024))
        #expect(id?["pattern"] == OpenAPIDocument.noNUL)
        let image = document["paths"]?["/api/v1/products"]?["post"]?["requestBody"]?["content"]?["multipart/form-data"]?["schema"]?["properties"]?["image"]
        #expect(image?["minItems"] == .number(1))
        // POST needs the record's id; PUT takes it from the path.
        let schemas = document["components"]?["schemas"]
        #expect(schemas?["ProductRecord"]?["required"]?.array?.contains("id") == true)
        #expect(schemas?["ProductReplacement"]?["properties"]?["id"] == nil)
        let pattern = try? NSRegularExpression(pattern: "^[^\\u0000]*$")
        #expect(pattern?.firstMatch(in: "a\u{0}b", range: NSRange(location: 0, length: 3)) == nil)
        #expect(pattern?.firstMatch(in: "ab", range: NSRange(location: 0, length: 2)) != nil)
    }
}
