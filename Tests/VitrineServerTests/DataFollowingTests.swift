import Foundation
import Hummingbird
import HummingbirdTesting
import Testing
import VitrineCatalog
import VitrineEngine
@testable import VitrineServer

@Suite("following the data directory")
struct DataFollowingTests {
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

    /// The answer does not wait for the work: the work is held until the timeout has been
    /// received, so the test proves the order without measuring time (a busy machine can delay
    /// the timer, never reorder it).
    @Test func blockingWorkPastItsDeadlineAnswersTimeoutWithoutWaitingForIt() async throws {
        let release = DispatchSemaphore(value: 0)
        let finished = ManagedFlag()
        await #expect(throws: APIError.timeout) {
            try await Deadline.run(.milliseconds(50)) { () throws -> Int in
                _ = release.wait(timeout: .now() + 120)
                finished.set()
                return 1
            }
        }
        #expect(!finished.isSet)
        release.signal()
        #expect(try await Deadline.run(.seconds(300)) { 42 } == 42)
    }
}

final class ManagedFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var value = false
    var isSet: Bool { lock.withLock { value } }
    func set() { lock.withLock { value = true } }
}
