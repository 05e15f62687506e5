import Testing
@testable import VitrineIndex

@Suite struct UpdateDeleteTests {
    let data = TestData.mixture(count: 2000, dimension: 32)

    @Test func upsertReplacesTheOldVector() throws {
        let store = try EmbeddedVectorStore(configuration: TestData.hnsw(dimension: 32))
        let first = try store.upsert(TestData.records(data.vectors))
        // Move p5 onto p1700's vector: a search for that vector finds both, p5's old one is gone.
        let target = data.vectors[1700]
        let second = try store.upsert([VectorRecord(key: TestData.key(5), vector: target)])
        #expect(second == first + 1)
        #expect(try store.count() == 2000)
        #expect(TestData.close(try store.vector(for: TestData.key(5)), TestData.normalized(target)))
        let hits = try store.search(target, k: 2).map(\.key)
        #expect(Set(hits) == [TestData.key(5), TestData.key(1700)])
        let old = try store.search(data.vectors[5], k: 50)
        #expect(old.filter { $0.key == TestData.key(5) }.allSatisfy { abs($0.distance - (1 - dot(data.vectors[5], target))) < 1e-4 })
    }

    @Test func deletedKeysAreNeverReturned() throws {
        let store = try EmbeddedVectorStore(configuration: TestData.hnsw(dimension: 32))
        _ = try store.upsert(TestData.records(data.vectors))
        let deleted = Set((0..<2000).filter { $0 % 3 == 0 }.map(TestData.key))
        let sequence = try store.delete(Array(deleted))
        #expect(sequence == 2)
        #expect(try store.count() == 2000 - deleted.count)
        #expect(try !store.contains(TestData.key(0)))
        #expect(try store.contains(TestData.key(1)))
        #expect(try store.vector(for: TestData.key(3)) == nil)
        for q in data.vectors.prefix(60) {
            let hits = try store.search(q, k: 20)
            #expect(hits.count == 20)
            #expect(hits.allSatisfy { !deleted.contains($0.key) })
        }
        // Deleting the same keys again changes nothing but still takes a sequence number.
        #expect(try store.delete(Array(deleted.prefix(3))) == 3)
        #expect(try store.keys().count == 2000 - deleted.count)
    }

    @Test func compactionReclaimsTombstonesAndKeepsResults() throws {
        let store = try EmbeddedVectorStore(configuration: TestData.hnsw(dimension: 32))
        _ = try store.upsert(TestData.records(data.vectors))
        _ = try store.upsert(TestData.records(Array(data.vectors.prefix(200).reversed())))  // 200 replacements
        _ = try store.delete((1000..<1500).map(TestData.key))
        #expect(store.storedCount == 2200)
        let before = try store.lastSequence()
        try store.compact()
        #expect(store.storedCount == 1500)
        #expect(try store.count() == 1500)
        #expect(try store.lastSequence() == before)
        // Key i < 200 now holds vector 199 − i; keys 1000..<1500 are gone.
        let current = (0..<2000).map { $0 < 200 ? data.vectors[199 - $0] : data.vectors[$0] }
        var found: [[VectorKey]] = []
        var truth: [[VectorKey]] = []
        for q in data.vectors.suffix(40) + data.vectors.prefix(20) {
            found.append(try store.search(q, k: 10).map(\.key))
            truth.append(TestData.bruteForce(q, current, k: 10, metric: .cosine) { !(1000..<1500).contains($0) })
        }
        #expect(TestData.recall(found, truth) >= 0.95)
    }

    @Test func invalidInputIsRejectedWithTypedErrors() throws {
        let store = try EmbeddedVectorStore(configuration: TestData.hnsw(dimension: 32))
        #expect(throws: VectorIndexError.dimensionMismatch(expected: 32, actual: 3, key: TestData.key(1))) {
            try store.upsert([VectorRecord(key: TestData.key(1), vector: [1, 2, 3])])
        }
        var bad = data.vectors[0]
        bad[4] = .nan
        #expect(throws: VectorIndexError.self) {
            try store.upsert([VectorRecord(key: TestData.key(0), vector: data.vectors[1]),
                              VectorRecord(key: TestData.key(2), vector: bad)])
        }
        // The whole batch was rejected: nothing applied, no sequence consumed.
        #expect(try store.count() == 0)
        #expect(try store.lastSequence() == 0)
        #expect(throws: VectorIndexError.self) {
            try store.upsert([VectorRecord(key: TestData.key(3), vector: [Float](repeating: 0, count: 32))])
        }
        #expect(throws: VectorIndexError.dimensionMismatch(expected: 32, actual: 31, key: nil)) {
            try store.search([Float](repeating: 1, count: 31), k: 3)
        }
        #expect(throws: VectorIndexError.invalidArgument("k must be positive, not 0")) {
            try store.search(data.vectors[0], k: 0)
        }
        let many = Dictionary(uniqueKeysWithValues: (0...EmbeddedVectorStore.maxAttributes).map { ("a\($0)", "v") })
        #expect(throws: VectorIndexError.self) {
            try store.upsert([VectorRecord(key: TestData.key(4), vector: data.vectors[4], attributes: many)])
        }
        // Absurd k or ef are bounded, not trapped on.
        _ = try store.upsert(TestData.records(Array(data.vectors.prefix(50))))
        #expect(try store.search(data.vectors[0], k: Int.max).count == 50)
        #expect(try store.search(data.vectors[0], k: 5, filter: nil, ef: Int.max).count == 5)
        #expect(throws: VectorIndexError.invalidArgument("M must be in 2...256, not 1")) {
            try EmbeddedVectorStore(configuration: VectorStoreConfiguration(dimension: 8, algorithm: .hnsw(HNSWParameters(M: 1))))
        }
    }

    func dot(_ a: [Float], _ b: [Float]) -> Float { zip(a, b).reduce(0) { $0 + $1.0 * $1.1 } }
}
