import Foundation
import Hummingbird
import HummingbirdTesting
import Testing
import VitrineCatalog
import VitrineEngine
import VitrineModels
@testable import VitrineServer
import VitrineSources

@Suite("following the data directory")
struct DataFollowingTests {
    /// What `vitrine reindex --model other` does to a data directory under a running server.
    static func reindex(_ directory: DataDirectory, to other: URL) throws {
        let encoders = try CLIPEncoders(directory: other)
        let record = try ModelIdentity.record(specifier: other.path, directory: other, precision: "fp32", dimension: encoders.image!.dimension)
        let writer = try DataStore.openForWriting(directory, holder: "test reindex")
        _ = try Reindexer(store: writer, encoder: IngestEncoder(encoders.image!), model: record).run()
        try writer.close()
    }

    /// Another writer (an `ingest`) commits while the server runs: the next request sees it.
    @Test func anotherWritersCommitsAreServedWithoutRestart() async throws {
        let server = try await ServerFixtures.server()
        try await ServerFixtures.test(server) { client in
            #expect(try await client.execute(uri: "/api/v1/products/late", method: .get).status == .notFound)
            let store = try DataStore.openForWriting(server.service.store.directory, holder: "test ingest")
            let record = try #require(try store.catalog.modelRecord())
            let pipeline = try IngestPipeline(store: store, encoder: IngestEncoder(ServerFixtures.encoders.image!), model: record)
            let item = ServerFixtures.item("late", name: "late arrival", category: "hats", market: "sk", photos: ["gray_alpha.png"])
            _ = try await pipeline.run(ItemsReader(source: "test", items: [item]))
            try store.close()

            #expect(try await client.execute(uri: "/api/v1/products/late", method: .get).status == .ok)
            let byPhoto = try await client.execute(uri: "/api/v1/search/image?k=1", method: .post, body: ByteBuffer(bytes: ServerFixtures.photo("gray_alpha.png")))
            #expect(try byPhoto.decode(SearchResponse.self).results.first?.id == "late")
            #expect(try await client.execute(uri: "/api/v1/markets", method: .get).text.contains("\"sk\""))
        }
    }

    /// A `vitrine reindex` swaps in another model while the server runs: until the server has
    /// loaded it, queries are answered by the old model's index and encoders (held back, never
    /// neighbours from two embedding spaces, never a 503); once loaded, text, photo and "similar"
    /// searches and writes all use the new model.
    @Test func aReindexToAnotherModelIsServedOnceTheServerLoadsIt() async throws {
        let other = FileManager.default.temporaryDirectory.appendingPathComponent("vitrine-reload-model-\(UUID().uuidString.prefix(8))")
        try RandomCheckpoint.write(like: ServerFixtures.tinyModel, to: other, seed: 11)
        let loads = LoadCounter()
        let server = try await ServerFixtures.server(configure: { $0.apiKeys = [ServerFixtures.apiKey] }, loader: { store in
            loads.add()
            #expect(try store.catalog.modelRecord()?.source == other.path)
            return try CLIPEncoders(directory: other)
        })
        try await ServerFixtures.test(server) { client in
            #expect(try await client.execute(uri: "/api/v1/search?q=dress", method: .get).status == .ok)
            #expect(await server.reloadModelIfChanged() == false, "nothing changed yet")
            #expect(loads.count == 0)

            try Self.reindex(server.service.store.directory, to: other)

            try server.service.refresh()
            #expect(server.service.store.pendingModel?.source == other.path)
            #expect(server.service.store.model?.source != other.path, "the swap is held until the encoders are loaded")
            let held = try await client.execute(uri: "/api/v1/search?q=dress", method: .get)
            #expect(held.status == .ok)
            // The old model's tower and the old index: a stored photo still finds itself at cosine 1.
            let heldPhoto = try await client.execute(uri: "/api/v1/search/image?k=1", method: .post, body: ByteBuffer(bytes: ServerFixtures.photo("gray.png")))
            let heldBest = try #require(try heldPhoto.decode(SearchResponse.self).results.first)
            #expect(heldBest.id == "p2" && heldBest.score > 0.999, "\(heldBest)")

            #expect(await server.reloadModelIfChanged() == true)
            #expect(server.service.store.pendingModel == nil)
            #expect(loads.count == 1)
            #expect(server.service.engine.model?.source == other.path)
            #expect(await server.reloadModelIfChanged() == false, "loaded once")

            // A stored photo finds its own product at cosine 1: the query went through the same
            // image tower as the index's vectors, i.e. the new model's.
            let byPhoto = try await client.execute(uri: "/api/v1/search/image?k=1", method: .post, body: ByteBuffer(bytes: ServerFixtures.photo("gray.png")))
            let best = try #require(try byPhoto.decode(SearchResponse.self).results.first)
            #expect(best.id == "p2" && best.score > 0.999, "\(best)")
            #expect(try await client.execute(uri: "/api/v1/search?q=dress", method: .get).status == .ok)
            #expect(try await client.execute(uri: "/api/v1/products/p1/similar", method: .get).status == .ok)

            // A write embeds with the new model too: its photo finds it at cosine 1.
            var form = MultipartBuilder()
            form.add(name: "product", contentType: "application/json", data: Data(#"{"id": "new", "name": "new hat", "category": "hats"}"#.utf8))
            form.add(name: "image", filename: "hat.png", contentType: "image/png", data: ServerFixtures.photo("gray_alpha.png"))
            let created = try await client.execute(uri: "/api/v1/products", method: .post,
                                                   headers: [.authorization: "Bearer \(ServerFixtures.apiKey)", .contentType: form.contentType],
                                                   body: form.finished())
            #expect(created.status == .created, "\(created.text)")
            try server.service.refresh()
            let newPhoto = try await client.execute(uri: "/api/v1/search/image?k=1", method: .post, body: ByteBuffer(bytes: ServerFixtures.photo("gray_alpha.png")))
            let found = try #require(try newPhoto.decode(SearchResponse.self).results.first)
            #expect(found.id == "new" && found.score > 0.999, "\(found)")
        }
    }

    /// A model that cannot be loaded leaves the server up, answering with the old one.
    @Test func aNewModelThatFailsToLoadLeavesTheOldOneServing() async throws {
        let other = FileManager.default.temporaryDirectory.appendingPathComponent("vitrine-reload-bad-\(UUID().uuidString.prefix(8))")
        try RandomCheckpoint.write(like: ServerFixtures.tinyModel, to: other, seed: 12)
        let server = try await ServerFixtures.server(loader: { _ in
            throw EngineError.model(path: other.path, reason: "test: the weights are gone")
        })
        try await ServerFixtures.test(server) { client in
            try Self.reindex(server.service.store.directory, to: other)
            try server.service.refresh()
            #expect(await server.reloadModelIfChanged() == false)
            #expect(server.service.store.pendingModel?.source == other.path)
            #expect(try await client.execute(uri: "/api/v1/search?q=dress", method: .get).status == .ok)
            #expect(try await client.execute(uri: "/healthz", method: .get).status == .ok)
        }
    }

    /// The answer does not wait for the work: the work is held until the timeout has been
    /// received, so the test proves the order without measuring time (a busy machine can delay
    /// the timer, never reorder it). The hold's own limit is only a backstop against a hung run:
    /// long, since the command-line suites running beside this one can keep every cooperative
    /// thread (which resumes this test) busy for minutes.
    @Test func blockingWorkPastItsDeadlineAnswersTimeoutWithoutWaitingForIt() async throws {
        let release = DispatchSemaphore(value: 0)
        let finished = ManagedFlag()
        await #expect(throws: APIError.timeout) {
            try await Deadline.run(.milliseconds(50)) { () throws -> Int in
                _ = release.wait(timeout: .now() + 1800)
                finished.set()
                return 1
            }
        }
        #expect(!finished.isSet)
        release.signal()
        #expect(try await Deadline.run(.seconds(300)) { 42 } == 42)
    }
}

final class LoadCounter: @unchecked Sendable {
    private let lock = NSLock()
    private var value = 0
    var count: Int { lock.withLock { value } }
    func add() { lock.withLock { value += 1 } }
}

final class ManagedFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var value = false
    var isSet: Bool { lock.withLock { value } }
    func set() { lock.withLock { value = true } }
}
