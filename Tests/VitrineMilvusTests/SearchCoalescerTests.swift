import Foundation
import Synchronization
import Testing
@testable import VitrineMilvus

/// Searches that arrive while one with the same parameters is in flight go together as one
/// request; each caller gets its own answer (or the request's error), and a lone search goes at once.
struct SearchCoalescerTests {
    typealias Coalescer = SearchCoalescer<Int, Int>
    static let key = Coalescer.Key(expression: "", topK: 10, beam: 64)

    /// Runs `count` searches on threads of their own, all released at once; returns each
    /// caller's result and the batches `send` saw.
    static func race(
        _ coalescer: Coalescer, count: Int, key: @escaping @Sendable (Int) -> Coalescer.Key = { _ in key },
        failing: Bool = false
    ) -> (results: [Result<Int, Error>], batches: [[Int]]) {
        let batches = Mutex<[[Int]]>([])
        let results = Mutex<[Int: Result<Int, Error>]>([:])
        let start = DispatchSemaphore(value: 0), done = DispatchGroup()
        for i in 0..<count {
            done.enter()
            Thread {
                start.wait()
                let result = Result {
                    try coalescer.search(i, key: key(i)) { queries in
                        batches.withLock { $0.append(queries) }
                        Thread.sleep(forTimeInterval: 0.05)  // a request in flight while others arrive
                        if failing { throw CocoaError(.fileReadUnknown) }
                        return queries.map { $0 * 10 }
                    }
                }
                results.withLock { $0[i] = result }
                done.leave()
            }.start()
        }
        for _ in 0..<count { start.signal() }
        done.wait()
        return ((0..<count).map { i in results.withLock { $0[i]! } }, batches.withLock { $0 })
    }

    @Test func concurrentSearchesShareRequestsAndGetTheirOwnAnswers() throws {
        let (results, batches) = Self.race(Coalescer(), count: 12)
        for (i, result) in results.enumerated() { #expect(try result.get() == i * 10, "caller \(i)") }
        #expect(batches.flatMap { $0 }.sorted() == Array(0..<12), "every query sent exactly once")
        #expect(batches.count < 12 && batches.contains { $0.count > 1 }, "batches: \(batches)")
        #expect(batches.first?.count == 1, "the first search goes alone, at once: \(batches)")
    }

    @Test func differentParametersNeverShareARequest() throws {
        let (results, batches) = Self.race(Coalescer(), count: 8, key: { Coalescer.Key(expression: "e\($0 % 2)", topK: 10, beam: 64) })
        for (i, result) in results.enumerated() { #expect(try result.get() == i * 10) }
        for batch in batches { #expect(Set(batch.map { $0 % 2 }).count == 1, "mixed batch \(batch)") }
    }

    @Test func aFailedRequestFailsEachOfItsCallers() {
        let (results, batches) = Self.race(Coalescer(), count: 6, failing: true)
        #expect(batches.flatMap { $0 }.sorted() == Array(0..<6))
        for result in results { #expect(throws: CocoaError.self) { try result.get() } }
    }

    @Test func batchesStayWithinTheirLimit() throws {
        let (results, batches) = Self.race(Coalescer(maxQueries: 3), count: 16)
        for (i, result) in results.enumerated() { #expect(try result.get() == i * 10) }
        #expect(batches.allSatisfy { $0.count <= 3 }, "batches: \(batches)")
        #expect(batches.flatMap { $0 }.sorted() == Array(0..<16))
    }
}
