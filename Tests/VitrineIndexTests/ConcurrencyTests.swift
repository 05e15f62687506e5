import Foundation
import Testing
@testable import VitrineIndex

@Suite struct ConcurrencyTests {
    /// Searches run in many tasks while one writer keeps inserting, replacing and deleting: no
    /// crash, every result is a key that was written, sorted, never a deleted one.
    @Test func searchesWhileAWriterInserts() async throws {
        let data = TestData.mixture(count: 4000, dimension: 32)
        let store = try EmbeddedVectorStore(configuration: TestData.hnsw(dimension: 32, efConstruction: 40))
        store.applyChunk = 64
        _ = try store.upsert(TestData.records(Array(data.vectors.prefix(500))))
        let deletedBefore = Set((0..<500).filter { $0 % 10 == 0 }.map(TestData.key))

        try await withThrowingTaskGroup(of: Int.self) { group in
            group.addTask {
                var sequence: UInt64 = 0
                for start in stride(from: 500, to: 4000, by: 250) {
                    let s = try store.upsert(TestData.records(Array(data.vectors[start..<start + 250]), offset: start))
                    #expect(s > sequence)
                    sequence = s
                    if start == 1000 { sequence = try store.delete(Array(deletedBefore)) }
                }
                return 0
            }
            for reader in 0..<4 {
                group.addTask {
                    var searches = 0
                    var deletedSeen = false
                    for round in 0..<100 {
                        let q = data.vectors[(reader * 997 + round * 31) % 4000]
                        let sequenceBefore = try store.lastSequence()
                        let hits = try store.search(q, k: 10)
                        #expect(!hits.isEmpty)
                        #expect(zip(hits, hits.dropFirst()).allSatisfy { $0.distance <= $1.distance })
                        #expect(Set(hits.map(\.key)).count == hits.count)
                        for hit in hits {
                            let i = Int(hit.key.product.dropFirst())!
                            #expect((0..<4000).contains(i))
                        }
                        if sequenceBefore >= 5, hits.contains(where: { deletedBefore.contains($0.key) }) {
                            // Deletion was applied before this search started: must not appear.
                            deletedSeen = true
                        }
                        searches += 1
                    }
                    #expect(!deletedSeen)
                    return searches
                }
            }
            var total = 0
            for try await n in group { total += n }
            #expect(total == 400)
        }
        #expect(try store.count() == 4000 - deletedBefore.count)
        // After the writer finished, the index answers as well as a freshly built one.
        let queries = data.vectors.suffix(30)
        let live = (0..<4000).filter { !deletedBefore.contains(TestData.key($0)) }
        var found: [[VectorKey]] = []
        var truth: [[VectorKey]] = []
        for q in queries {
            found.append(try store.search(q, k: 10).map(\.key))
            truth.append(TestData.bruteForce(q, data.vectors, k: 10, metric: .cosine) { live.contains($0) })
        }
        #expect(TestData.recall(found, truth) >= 0.95)
    }
}
