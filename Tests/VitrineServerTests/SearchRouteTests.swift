import Foundation
import Hummingbird
import HummingbirdTesting
import Testing
import VitrineEngine
import VitrineModels
@testable import VitrineServer

@Suite("search routes")
struct SearchRouteTests {
    @Test func textSearchReturnsTheSearchShapeBestFirst() async throws {
        let server = try await ServerFixtures.server()
        try await ServerFixtures.test(server) { client in
            let response = try await client.execute(uri: "/api/v1/search?q=red+summer%20dress&k=3", method: .get)
            #expect(response.status == .ok)
            #expect(response.headers[.contentType]?.hasPrefix("application/json") == true)
            let page = try response.decode(SearchResponse.self)
            #expect(page.query == "red summer dress")
            #expect(page.truncated == false)
            #expect(page.offset == 0)
            #expect(page.results.count == 3)
            #expect(page.results.map(\.score) == page.results.map(\.score).sorted(by: >))
            let ids = Set(ServerFixtures.catalog.map(\.id))
            for result in page.results {
                #expect(ids.contains(result.id))
                #expect(result.image.hasPrefix("/images/"))
                #expect((-1.0001...1.0001).contains(result.score))
            }
            // Paging: the second page continues the first.
            let all = try await client.execute(uri: "/api/v1/search?q=red+summer%20dress&k=5", method: .get).decode(SearchResponse.self)
            let second = try await client.execute(uri: "/api/v1/search?q=red+summer%20dress&k=2&offset=2", method: .get).decode(SearchResponse.self)
            #expect(second.offset == 2)
            #expect(second.results.map(\.id) == Array(all.results.map(\.id)[2..<4]))
        }
    }

    /// Keyword and hybrid mode over the API: the fused score, explanations, filters, and user
    /// text that is full-text syntax.
    @Test func modesExplainAndFilter() async throws {
        let server = try await ServerFixtures.server()
        try await ServerFixtures.test(server) { client in
            let product = ServerFixtures.catalog[0]
            let word = try #require(product.name.split(separator: " ").first.map(String.init))
            let keyword = try await client.execute(uri: "/api/v1/search?q=\(word)&mode=keyword&explain=true", method: .get).decode(SearchResponse.self)
            #expect(keyword.results.contains { $0.id == product.id })
            for (i, result) in keyword.results.enumerated() {
                #expect(abs(Double(result.score) - 1 / (60 + Double(i + 1))) < 1e-6)
                #expect(result.explain?.retrievers[.keyword]?.rank == i + 1)
                #expect(result.explain?.retrievers[.clip] == nil)
            }
            let hybrid = try await client.execute(uri: "/api/v1/search?q=\(word)&mode=hybrid&explain=1&k=5", method: .get).decode(SearchResponse.self)
            #expect(hybrid.results.count == 5)
            #expect(hybrid.results.allSatisfy { $0.explain?.retrievers[.clip] != nil || $0.explain?.retrievers[.keyword] != nil })
            #expect(hybrid.results.map(\.score) == hybrid.results.map(\.score).sorted(by: >))
            let plain = try await client.execute(uri: "/api/v1/search?q=\(word)&mode=HYBRID&k=5", method: .get)
            #expect(plain.status == .ok)
            let body = String(buffer: plain.body)
            #expect(!body.contains("\"explain\""))
            #expect(try plain.decode(SearchResponse.self).results.map(\.id) == hybrid.results.map(\.id))
            // Filters apply in every mode.
            let shoes = try await client.execute(uri: "/api/v1/search?q=shoes&mode=hybrid&k=10&category=Shoes", method: .get).decode(SearchResponse.self)
            #expect(Set(shoes.results.map(\.id)) == ["p3", "p4"])
            for q in ["%22", "NEAR", "dress%22%20OR%20%22x", "(((", "*", "name%3Ashoes"] {
                let response = try await client.execute(uri: "/api/v1/search?q=\(q)&mode=keyword", method: .get)
                #expect(response.status == .ok, "\(q)")
            }
        }
    }

    /// rerank=true through the real cross-encoder (the reranker tests' checkpoint, built from
    /// all-MiniLM-L6-v2 by tools/fetch_minilm.sh): the top is ordered by its scores.
    @Test func rerankOrdersTheTopByTheCrossEncoder() async throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let directory = URL(fileURLWithPath: ProcessInfo.processInfo.environment["VITRINE_CROSSENCODER_DIR"]
            ?? root.appendingPathComponent(".fixtures-minilm/crossencoder").path)
        let reranker = try BERTCrossEncoder(directory: directory)
        let server = try await ServerFixtures.server(reranker: reranker)
        try await ServerFixtures.test(server) { client in
            let page = try await client.execute(uri: "/api/v1/search?q=leather+boots&mode=hybrid&rerank=true&explain=true&k=5", method: .get)
            #expect(page.status == .ok)
            let results = try page.decode(SearchResponse.self).results
            #expect(results.count == 5)
            let scores = results.map(\.score)
            #expect(scores == scores.sorted(by: >))
            #expect(results.allSatisfy { $0.explain?.rerank == $0.score })
            // The scores are the cross-encoder's over "name. description".
            let texts = results.map { result in
                let entry = ServerFixtures.catalog.first { $0.id == result.id }!
                return "\(entry.name). test product \(entry.id)"
            }
            let expected = try reranker.scores(query: "leather boots", texts: texts, maxLength: 128)
            for (score, want) in zip(scores, expected) { #expect(abs(score - want) < 1e-5) }
        }
    }

    @Test func filtersNarrowResults() async throws {
        let server = try await ServerFixtures.server()
        try await ServerFixtures.test(server) { client in
            let shoes = try await client.execute(uri: "/api/v1/search?q=shoes&k=10&category=Shoes", method: .get).decode(SearchResponse.self)
            #expect(Set(shoes.results.map(\.id)) == ["p3", "p4"])
            let cz = try await client.execute(uri: "/api/v1/search?q=shoes&k=10&market=cz", method: .get).decode(SearchResponse.self)
            #expect(Set(cz.results.map(\.id)) == ["p1", "p3", "p4"])
            let none = try await client.execute(uri: "/api/v1/search?q=shoes&category=hats", method: .get)
            #expect(none.status == .ok)
            #expect(try none.decode(SearchResponse.self).results.isEmpty)
            // A threshold above every score leaves nothing.
            let strict = try await client.execute(uri: "/api/v1/search?q=shoes&min_score=1", method: .get).decode(SearchResponse.self)
            #expect(strict.results.allSatisfy { $0.score >= 1 })
        }
    }

    @Test(arguments: [
        ("/api/v1/search", "invalid_query"),
        ("/api/v1/search?q=", "invalid_query"),
        ("/api/v1/search?q=%20%20", "invalid_query"),
        ("/api/v1/search?q=" + String(repeating: "a", count: 1001), "invalid_query"),
        ("/api/v1/search?q=dress&k=0", "invalid_parameter"),
        ("/api/v1/search?q=dress&k=101", "invalid_parameter"),
        ("/api/v1/search?q=dress&k=ten", "invalid_parameter"),
        ("/api/v1/search?q=dress&offset=-1", "invalid_parameter"),
        ("/api/v1/search?q=dress&offset=99999999999999999999", "invalid_parameter"),
        ("/api/v1/search?q=dress&min_score=2", "invalid_parameter"),
        ("/api/v1/search?q=dress&min_score=nan", "invalid_parameter"),
        ("/api/v1/search?q=%ZZ", "invalid_parameter"),
        ("/api/v1/search?q=dress&mode=vector", "invalid_parameter"),
        ("/api/v1/search?q=dress&mode=hybrid&mode=clip", "invalid_parameter"),
        ("/api/v1/search?q=dress&explain=maybe", "invalid_parameter"),
        ("/api/v1/search?q=dress&rerank=yes", "invalid_parameter"),
        ("/api/v1/search?q=dress&rerank=true", "invalid_parameter"),
        ("/api/v1/search?q=%20&mode=keyword", "invalid_query"),
    ])
    func badSearchInputIsA400WithTheErrorShape(uri: String, code: String) async throws {
        let server = try await ServerFixtures.server()
        try await ServerFixtures.test(server) { client in
            let response = try await client.execute(uri: uri, method: .get)
            #expect(response.status == .badRequest, "\(uri)")
            let error = try response.error()
            #expect(error.code == code, "\(uri): \(error)")
            #expect(!error.message.isEmpty)
        }
    }

    @Test func imageSearchByRawBodyAndMultipartFindsTheSamePhotoFirst() async throws {
        let server = try await ServerFixtures.server()
        try await ServerFixtures.test(server) { client in
            let photo = ServerFixtures.photo("lossy.webp")  // p3's only photo
            let raw = try await client.execute(uri: "/api/v1/search/image?k=2", method: .post,
                                               headers: [.contentType: "image/webp"], body: ByteBuffer(bytes: photo))
            #expect(raw.status == .ok)
            let page = try raw.decode(SearchResponse.self)
            #expect(page.results.first?.id == "p3")
            #expect(page.results.first.map { $0.score > 0.999 } == true)
            #expect(page.query.hasPrefix("image:"))

            var form = MultipartBuilder()
            form.add(name: "image", filename: "photo.webp", contentType: "image/webp", data: photo)
            let multipart = try await client.execute(uri: "/api/v1/search/image?k=2&market=cz", method: .post,
                                                     headers: [.contentType: form.contentType], body: form.finished())
            #expect(multipart.status == .ok)
            #expect(try multipart.decode(SearchResponse.self).results.first?.id == "p3")
            #expect(try multipart.decode(SearchResponse.self).results.allSatisfy { $0.score <= 1 })

            // Two photos for one search, or a multipart type without its boundary: 400, not a guess.
            var two = MultipartBuilder()
            two.add(name: "image", filename: "a.webp", contentType: "image/webp", data: photo)
            two.add(name: "image", filename: "b.webp", contentType: "image/webp", data: photo)
            let twice = try await client.execute(uri: "/api/v1/search/image", method: .post,
                                                 headers: [.contentType: two.contentType], body: two.finished())
            #expect(twice.status == .badRequest)
            #expect(try twice.error().code == "invalid_multipart")
            let unbounded = try await client.execute(uri: "/api/v1/search/image", method: .post,
                                                     headers: [.contentType: "multipart/form-data"], body: form.finished())
            #expect(unbounded.status == .badRequest)
            #expect(try unbounded.error().code == "invalid_multipart")
        }
    }

    @Test func badUploadsAre4xxWithTheErrorShape() async throws {
        let server = try await ServerFixtures.server { $0.maxUploadBytes = 300_000; $0.maxPixels = 200 * 200 }
        try await ServerFixtures.test(server) { client in
            let notImage = try await client.execute(uri: "/api/v1/search/image", method: .post, body: ByteBuffer(string: "hello, not an image"))
            #expect(notImage.status == .unprocessableContent)
            #expect(try notImage.error().code == "invalid_image")

            let empty = try await client.execute(uri: "/api/v1/search/image", method: .post, body: ByteBuffer())
            #expect(empty.status == .unprocessableContent)

            let big = try await client.execute(uri: "/api/v1/search/image", method: .post, body: ByteBuffer(bytes: [UInt8](repeating: 0xFF, count: 310_000)))
            #expect(big.status == .contentTooLarge)
            #expect(try big.error().code == "payload_too_large")

            let large = ServerFixtures.photo("large.jpg")
            #expect(large.count < 300_000)
            let manyPixels = try await client.execute(uri: "/api/v1/search/image", method: .post, body: ByteBuffer(bytes: large))
            #expect(manyPixels.status == .contentTooLarge)
            #expect(try manyPixels.error().code == "image_too_large")

            var form = MultipartBuilder()
            form.add(name: "comment", data: Data("no image here".utf8))
            let noPart = try await client.execute(uri: "/api/v1/search/image", method: .post,
                                                  headers: [.contentType: form.contentType], body: form.finished())
            #expect(noPart.status == .unprocessableContent)

            let broken = try await client.execute(uri: "/api/v1/search/image", method: .post,
                                                  headers: [.contentType: "multipart/form-data; boundary=xyz"], body: ByteBuffer(string: "--xyz\r\nbroken"))
            #expect(broken.status == .badRequest)
            #expect(try broken.error().code == "invalid_multipart")

            // The server is still up and answering.
            #expect(try await client.execute(uri: "/healthz", method: .get).status == .ok)
        }
    }

    @Test func similarLeavesTheProductOutAndUnknownIdsAre404() async throws {
        let server = try await ServerFixtures.server()
        try await ServerFixtures.test(server) { client in
            let response = try await client.execute(uri: "/api/v1/products/p4/similar?k=10", method: .get)
            #expect(response.status == .ok)
            let page = try response.decode(SearchResponse.self)
            #expect(page.query == "similar:p4")
            #expect(!page.results.contains { $0.id == "p4" })
            #expect(page.results.count == ServerFixtures.catalog.count - 1)

            let encoded = try await client.execute(uri: "/api/v1/products/bag%205%2Fx/similar", method: .get)
            #expect(encoded.status == .ok)
            #expect(try !encoded.decode(SearchResponse.self).results.contains { $0.id == "bag 5/x" })

            let unknown = try await client.execute(uri: "/api/v1/products/nope/similar", method: .get)
            #expect(unknown.status == .notFound)
            #expect(try unknown.error().code == "not_found")
        }
    }

    @Test func facetsCountProducts() async throws {
        let server = try await ServerFixtures.server()
        try await ServerFixtures.test(server) { client in
            struct Facet: Decodable { var value: String; var name: String?; var count: Int }
            let categories = try await client.execute(uri: "/api/v1/categories", method: .get).decode([Facet].self)
            var expected: [String: Int] = [:]
            for product in ServerFixtures.catalog { expected[product.category, default: 0] += 1 }
            #expect(Dictionary(uniqueKeysWithValues: categories.map { ($0.value, $0.count) }) == expected)
            #expect(categories.first { $0.value == "shoes" }?.name == "Shoes")

            let markets = try await client.execute(uri: "/api/v1/markets", method: .get).decode([Facet].self)
            var byMarket: [String: Int] = [:]
            for product in ServerFixtures.catalog { byMarket[product.market, default: 0] += 1 }
            #expect(Dictionary(uniqueKeysWithValues: markets.map { ($0.value, $0.count) }) == byMarket)
            #expect(markets.map(\.count) == markets.map(\.count).sorted(by: >))
        }
    }
}
