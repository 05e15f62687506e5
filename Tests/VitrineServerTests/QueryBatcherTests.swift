import Dispatch
import Foundation
import Hummingbird
import HummingbirdTesting
import Testing
import VitrineEngine
import VitrineModels
@testable import VitrineServer

/// An encoder for the batcher that records its passes and can hold a pass until released, so
/// tests can line queries up behind a running pass deterministically.
private final class ScriptedEncoder: @unchecked Sendable {
    private let lock = NSLock()
    private var passes: [[String]] = []
    private var holdNext = false
    private let entered = DispatchSemaphore(value: 0)
    private let release = DispatchSemaphore(value: 0)
    /// Inputs that make any pass containing them throw.
    let failing: Set<String>

    struct Failure: Error, Equatable { let input: String }

    init(failing: Set<String> = []) { self.failing = failing }

    var recorded: [[String]] { lock.withLock { passes } }

    /// The next pass signals when it starts and waits for ``resume()``.
    func holdNextPass() { lock.withLock { holdNext = true } }
    func waitUntilHeld() { entered.wait() }
    func resume() { release.signal() }

    func encode(_ inputs: [String]) throws -> [String] {
        let hold = lock.withLock { () -> Bool in
            passes.append(inputs)
            defer { holdNext = false }
            return holdNext
        }
        if hold {
            entered.signal()
            release.wait()
        }
        if let bad = inputs.first(where: failing.contains) { throw Failure(input: bad) }
        return inputs.map { "embedding of \($0)" }
    }
}

/// Waits (politely) until `condition` holds, or fails the test after a few seconds.
private func eventually(_ condition: () -> Bool, sourceLocation: SourceLocation = #_sourceLocation) async throws {
    // Generous: on 2 busy cores the tasks under test may wait a long time for a thread.
    let deadline = ContinuousClock.now + .seconds(120)
    while ContinuousClock.now < deadline {
        if condition() { return }
        try await Task.sleep(for: .milliseconds(10))
    }
    Issue.record("condition not reached in 120 s", sourceLocation: sourceLocation)
}

@Suite("query batcher")
struct QueryBatcherTests {
    @Test func queriesArrivingDuringAPassShareTheNextOne() async throws {
        let encoder = ScriptedEncoder()
        let batcher = QueryBatcher<String, String>(name: "test", maxBatch: 16, queueLimit: 100, encode: encoder.encode)
        encoder.holdNextPass()
        async let first = batcher.run("q0", timeout: .seconds(300))
        // Offloaded: the semaphore wait would otherwise block a thread of the cooperative pool.
        await withCheckedContinuation { done in DispatchQueue.global().async { encoder.waitUntilHeld(); done.resume() } }
        let rest = (1...20).map { "q\($0)" }
        try await withThrowingTaskGroup(of: (String, String).self) { group in
            for q in rest { group.addTask { (q, try await batcher.run(q, timeout: .seconds(300))) } }
            try await eventually { batcher.waitingCount == 20 }
            encoder.resume()
            for try await (q, output) in group { #expect(output == "embedding of \(q)") }
        }
        #expect(try await first == "embedding of q0")
        // One pass alone (nothing waited), then the 20 queued ones in passes of at most 16.
        #expect(encoder.recorded.map(\.count) == [1, 16, 4])
        #expect(Set(encoder.recorded.dropFirst().joined()) == Set(rest))
    }

    @Test func aFailingQueryFailsAloneAndTheOthersGetTheirOwnResults() async throws {
        let encoder = ScriptedEncoder(failing: ["bad"])
        let batcher = QueryBatcher<String, String>(name: "test", maxBatch: 8, queueLimit: 100, encode: encoder.encode)
        encoder.holdNextPass()
        async let warm = batcher.run("first", timeout: .seconds(300))
        await withCheckedContinuation { done in DispatchQueue.global().async { encoder.waitUntilHeld(); done.resume() } }
        let inputs = ["a", "bad", "b", "c"]
        let outcomes = try await withThrowingTaskGroup(of: (String, Result<String, Error>).self) { group in
            for q in inputs {
                group.addTask {
                    do { return (q, .success(try await batcher.run(q, timeout: .seconds(300)))) } catch { return (q, .failure(error)) }
                }
            }
            try await eventually { batcher.waitingCount == inputs.count }
            encoder.resume()
            var outcomes: [String: Result<String, Error>] = [:]
            for try await (q, result) in group { outcomes[q] = result }
            return outcomes
        }
        #expect(try await warm == "embedding of first")
        for q in ["a", "b", "c"] {
            #expect((try? outcomes[q]?.get()) == "embedding of \(q)")
        }
        switch outcomes["bad"] {
        case .failure(let error)?: #expect(error as? ScriptedEncoder.Failure == ScriptedEncoder.Failure(input: "bad"))
        default: Issue.record("the bad query did not fail")
        }
        // The shared pass failed, then each of its queries ran alone.
        #expect(encoder.recorded.count == 2 + inputs.count)
        #expect(encoder.recorded.suffix(inputs.count).allSatisfy { $0.count == 1 })
    }

    @Test func aFullQueueAnswersBusyAndTimedOutOrCancelledQueriesAreNeverEncoded() async throws {
        // Queries that must not time out get 300 s: the full suite can starve this test's tasks
        // for a minute on 2 cores, and only the 100 ms one is meant to expire.
        let encoder = ScriptedEncoder()
        let batcher = QueryBatcher<String, String>(name: "text search", maxBatch: 16, queueLimit: 2, encode: encoder.encode)
        encoder.holdNextPass()
        async let running = batcher.run("running", timeout: .seconds(300))
        await withCheckedContinuation { done in DispatchQueue.global().async { encoder.waitUntilHeld(); done.resume() } }

        let waiting = Task { try await batcher.run("waiting", timeout: .seconds(300)) }
        let cancelled = Task { try await batcher.run("cancelled", timeout: .seconds(300)) }
        try await eventually { batcher.waitingCount == 2 }
        // The queue holds 2: a third is refused at once.
        do {
            _ = try await batcher.run("refused", timeout: .seconds(300))
            Issue.record("a query beyond the queue limit was accepted")
        } catch let error as APIError {
            #expect(error.status == .serviceUnavailable)
            #expect(error.code == "busy")
        }
        cancelled.cancel()
        await #expect(throws: CancellationError.self) { _ = try await cancelled.value }
        #expect(batcher.waitingCount == 1)
        await #expect(throws: APIError.timeout) { _ = try await batcher.run("times out", timeout: .milliseconds(100)) }
        #expect(batcher.waitingCount == 1)

        encoder.resume()
        #expect(try await running == "embedding of running")
        #expect(try await waiting.value == "embedding of waiting")
        // A later query still works, and the cancelled and timed-out ones were never encoded.
        #expect(try await batcher.run("after", timeout: .seconds(300)) == "embedding of after")
        #expect(encoder.recorded == [["running"], ["waiting"], ["after"]])
    }

    @Test func manyConcurrentQueriesEachGetTheirOwnOutput() async throws {
        let encoder = ScriptedEncoder()
        let batcher = QueryBatcher<String, String>(name: "test", maxBatch: 16, queueLimit: 1000, encode: encoder.encode)
        let inputs = (0..<300).map { "query \($0)" }
        try await withThrowingTaskGroup(of: (String, String).self) { group in
            for q in inputs { group.addTask { (q, try await batcher.run(q, timeout: .seconds(30))) } }
            for try await (q, output) in group { #expect(output == "embedding of \(q)") }
        }
        let passes = encoder.recorded
        #expect(passes.allSatisfy { (1...16).contains($0.count) })
        #expect(passes.flatMap { $0 }.sorted() == inputs.sorted())
    }

    /// The real text tower: a batch gives each query the embedding it gets alone, and the search
    /// service answers the same with batching as without, under concurrent requests.
    @Test func batchedEmbeddingsAndSearchesEqualUnbatchedOnes() async throws {
        let text = try #require(ServerFixtures.encoders.text)
        let server = try await ServerFixtures.server()
        let engine = server.service.engine
        let queries = ["red summer dress", "grey dress", "blue sneakers", "leather boots", "tote bag",
                       "shoes", "a very long query " + String(repeating: "with many words ", count: 30), "hat"]
        let prepared = try queries.map { try engine.prepare(text: $0, page: SearchPage()) }
        let batched = try SearchService.encode(prepared.map { SearchService.PendingText(engine: engine, query: $0) })
        for (query, encoded) in zip(queries, batched) {
            let alone = text.tokenize(query)
            let vector = try text.tower.embed(tokenIDs: [alone.ids])[0]
            #expect(encoded.truncated == alone.truncated)
            let difference = zip(vector, encoded.vector).map { abs($0 - $1) }.max() ?? 1
            #expect(difference <= 1e-5, "\(query): batched and alone differ by \(difference)")
        }
        #expect(batched[6].truncated)

        // A batch straddling a model reload: each engine's queries go through its own encoder.
        let otherModel = FileManager.default.temporaryDirectory.appendingPathComponent("vitrine-batch-model-\(UUID().uuidString.prefix(8))")
        try RandomCheckpoint.write(like: ServerFixtures.tinyModel, to: otherModel, seed: 5)
        let otherEncoders = try CLIPEncoders(directory: otherModel)
        let otherText = try #require(otherEncoders.text)
        let otherEngine = SearchEngine(store: server.service.store, text: otherText, image: otherEncoders.image)
        let mixed = try queries.enumerated().map { index, query in
            let owner = index % 2 == 0 ? engine : otherEngine
            return SearchService.PendingText(engine: owner, query: try owner.prepare(text: query, page: SearchPage()))
        }
        for (index, encoded) in try SearchService.encode(mixed).enumerated() {
            let tower = index % 2 == 0 ? text : otherText
            let vector = try tower.tower.embed(tokenIDs: [tower.tokenize(queries[index]).ids])[0]
            let difference = zip(vector, encoded.vector).map { abs($0 - $1) }.max() ?? 1
            #expect(difference <= 1e-5, "mixed batch, \(queries[index]): differs from its own encoder's by \(difference)")
        }

        let unbatched = try await ServerFixtures.server { $0.textBatchSize = 1 }
        #expect(unbatched.service.textBatcher == nil)
        #expect(server.service.textBatcher != nil)
        let uris = queries.map { "/api/v1/search?k=5&q=" + $0.addingPercentEncoding(withAllowedCharacters: .alphanumerics)! }
        let expected = try await ServerFixtures.test(unbatched) { client in
            var pages: [SearchResponse] = []
            for uri in uris { pages.append(try await client.execute(uri: uri, method: .get).decode(SearchResponse.self)) }
            return pages
        }
        try await ServerFixtures.test(server) { client in
            try await withThrowingTaskGroup(of: (Int, SearchResponse).self) { group in
                for _ in 0..<4 {
                    for (i, uri) in uris.enumerated() {
                        group.addTask { (i, try await client.execute(uri: uri, method: .get).decode(SearchResponse.self)) }
                    }
                }
                for try await (i, page) in group {
                    #expect(page.query == expected[i].query)
                    #expect(page.truncated == expected[i].truncated)
                    #expect(page.results.map(\.id) == expected[i].results.map(\.id))
                    for (a, b) in zip(page.results, expected[i].results) { #expect(abs(a.score - b.score) <= 1e-5) }
                }
            }
        }
    }
}
