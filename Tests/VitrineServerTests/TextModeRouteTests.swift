import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import Synchronization
import Testing
import VitrineCatalog
import VitrineEngine
import VitrineModels
@testable import VitrineServer

/// `mode=text` on the API and the web UI, with the real all-MiniLM-L6-v2 (tools/fetch_minilm.sh):
/// answered with the text index's cosine, explained in hybrid, refused with a reason where there is
/// no text index; an API write embeds the new product's text.
@Suite(.serialized, .enabled(if: MiniLMWeights.shouldRun)) struct TextModeRouteTests {
    static func embedder() throws -> TextEmbedder {
        let minilm = MiniLMWeights.directory
        let encoder = try BERTSentenceEncoder(directory: minilm)
        return TextEmbedder(encoder: encoder, record: try ModelIdentity.record(specifier: minilm.path, directory: minilm, precision: "fp32",
                                                                               dimension: encoder.dimension))
    }

    @Test func textModeAnswersExplainsAndShowsInTheWebUI() async throws {
        let server = try await ServerFixtures.server(configure: { $0.apiKeys = [ServerFixtures.apiKey] }, text: try Self.embedder())
        try await ServerFixtures.test(server) { client in
            // A paraphrase: no word of "leather boots" in it.
            let page = try await client.execute(uri: "/api/v1/search?q=footwear%20for%20winter&mode=text&k=5", method: .get)
            #expect(page.status == .ok, "\(page.text)")
            let results = try page.decode(SearchResponse.self).results
            #expect(results.count == 5)
            #expect(Set(results.prefix(2).map(\.id)) == ["p3", "p4"], "\(results.map(\.id))")
            #expect(results.map(\.score) == results.map(\.score).sorted(by: >))
            let hybrid = try await client.execute(uri: "/api/v1/search?q=footwear%20for%20winter&mode=hybrid&explain=true&k=5", method: .get)
            let explained = try hybrid.decode(SearchResponse.self).results
            #expect(explained.contains { $0.explain?.retrievers[.text]?.rank == 1 })
            let shoes = try await client.execute(uri: "/api/v1/search?q=footwear&mode=text&category=Shoes&k=10", method: .get)
            #expect(Set(try shoes.decode(SearchResponse.self).results.map(\.id)) == ["p3", "p4"])

            let html = try await client.execute(uri: "/?q=footwear&mode=text", method: .get).text
            #expect(html.contains("<option value=\"text\" selected>"))

            // A product written through the API gets its text vector.
            let create = ProductRouteTests.form(#"{"id": "n1", "name": "wool mittens", "category": "gloves", "market": "cz"}"#, photos: ["orient_6.png"])
            let created = try await client.execute(uri: "/api/v1/products", method: .post,
                                                   headers: ProductRouteTests.bearer.merging([.contentType: create.contentType]), body: create.finished())
            #expect(created.status == .created, "\(created.text)")
            let found = try await client.execute(uri: "/api/v1/search?q=something%20to%20keep%20hands%20warm&mode=text&k=1", method: .get)
            #expect(try found.decode(SearchResponse.self).results.first?.id == "n1")
        }
    }

    /// A server started before the data directory had a text index loads its sentence model once a
    /// writer builds one (through the loader `serve` gives it), and then answers `mode=text`.
    @Test func aServerLoadsTheSentenceModelOfATextIndexMadeAfterItStarted() async throws {
        let directory = try await ServerFixtures.dataDirectory()
        let embedder = try Self.embedder()
        let loads = Mutex(0)
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        let server = try SearchServer(configuration: ServerConfiguration(dataDirectory: directory.url.path), store: try DataStore.openForReading(directory),
                                      encoders: ServerFixtures.encoders, logger: logger, textLoader: { record in
            loads.withLock { $0 += 1 }
            #expect(record.sameEmbeddings(as: embedder.record))
            return embedder
        })
        #expect(await server.reloadTextModelIfChanged() == false)
        try await ServerFixtures.test(server) { client in
            let refused = try await client.execute(uri: "/api/v1/search?q=boots&mode=text", method: .get)
            #expect(refused.status == .badRequest)
        }
        let writer = try DataStore.openForWriting(directory, holder: "test")
        try writer.buildTextIndex(with: embedder)
        try writer.close()
        try server.service.refresh()
        #expect(await server.reloadTextModelIfChanged() == true)
        #expect(await server.reloadTextModelIfChanged() == false)
        #expect(loads.withLock { $0 } == 1)
        try await ServerFixtures.test(server) { client in
            let page = try await client.execute(uri: "/api/v1/search?q=footwear%20for%20winter&mode=text&k=2", method: .get)
            #expect(page.status == .ok, "\(page.text)")
            #expect(Set(try page.decode(SearchResponse.self).results.map(\.id)) == ["p3", "p4"])
        }
    }

    @Test func withoutATextIndexTextModeIsRefusedAndHidden() async throws {
        let server = try await ServerFixtures.server(text: nil)
        try await ServerFixtures.test(server) { client in
            let refused = try await client.execute(uri: "/api/v1/search?q=boots&mode=text", method: .get)
            #expect(refused.status == .badRequest)
            #expect(try refused.error().message.contains("text index"), "\(refused.text)")
            let hybrid = try await client.execute(uri: "/api/v1/search?q=boots&mode=hybrid&explain=true", method: .get)
            #expect(hybrid.status == .ok)
            #expect(try hybrid.decode(SearchResponse.self).results.allSatisfy { $0.explain?.retrievers[.text] == nil })
            let html = try await client.execute(uri: "/", method: .get).text
            #expect(!html.contains("<option value=\"text\""))
        }
    }
}

/// The real all-MiniLM-L6-v2 weights: `VITRINE_MINILM_DIR`, else `.fixtures-minilm/all-MiniLM-L6-v2`
/// at the repository root. Missing weights fail the suite unless `VITRINE_ALLOW_MISSING_MINILM=1`.
enum MiniLMWeights {
    static let directory = URL(fileURLWithPath: ProcessInfo.processInfo.environment["VITRINE_MINILM_DIR"]
        ?? ServerFixtures.root.deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent(".fixtures-minilm/all-MiniLM-L6-v2").path)

    static var shouldRun: Bool {
        FileManager.default.fileExists(atPath: directory.appendingPathComponent("model.safetensors").path)
            || ProcessInfo.processInfo.environment["VITRINE_ALLOW_MISSING_MINILM"] != "1"
    }
}
