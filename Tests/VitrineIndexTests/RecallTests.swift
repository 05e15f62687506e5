import Testing
@testable import VitrineIndex

@Suite struct RecallTests {
    static let data = TestData.mixture(count: 5000, dimension: 64, queries: 100)
    static var queries: [[Float]] { data.queries }

    @Test(arguments: [Metric.cosine, .innerProduct, .l2])
    func hnswRecallAgainstExact(metric: Metric) throws {
        let store = try EmbeddedVectorStore(configuration: TestData.hnsw(dimension: 64, metric: metric))
        _ = try store.upsert(TestData.records(Self.data.vectors))
        #expect(try store.count() == 5000)
        var found: [[VectorKey]] = []
        var truth: [[VectorKey]] = []
        for q in Self.queries {
            let hits = try store.search(q, k: 10)
            #expect(hits.count == 10)
            #expect(zip(hits, hits.dropFirst()).allSatisfy { $0.distance <= $1.distance })
            found.append(hits.map(\.key))
            truth.append(TestData.bruteForce(q, Self.data.vectors, k: 10, metric: metric))
        }
        let recall = TestData.recall(found, truth)
        #expect(recall >= 0.95, "recall@10 \(recall) with \(metric)")
    }

    @Test func exactSearchMatchesBruteForce() throws {
        let store = try EmbeddedVectorStore(configuration: VectorStoreConfiguration(
            dimension: 64, metric: .l2, algorithm: .exact, syncWrites: false))
        let vectors = Array(Self.data.vectors.prefix(2000))
        _ = try store.upsert(TestData.records(vectors))
        for q in Self.queries.prefix(20) {
            let hits = try store.search(q, k: 5)
            #expect(hits.map(\.key) == TestData.bruteForce(q, vectors, k: 5, metric: .l2))
        }
    }

    @Test func singleThreadedBuildIsAsGood() throws {
        let store = try EmbeddedVectorStore(configuration: TestData.hnsw(dimension: 64, threads: 1))
        let vectors = Array(Self.data.vectors.prefix(2000))
        _ = try store.upsert(TestData.records(vectors))
        let found = try Self.queries.map { try store.search($0, k: 10).map(\.key) }
        let truth = Self.queries.map { TestData.bruteForce($0, vectors, k: 10, metric: .cosine) }
        #expect(TestData.recall(found, truth) >= 0.95)
    }

    @Test func searchOnEmptyAndTinyStores() throws {
        let store = try EmbeddedVectorStore(configuration: TestData.hnsw(dimension: 4))
        #expect(try store.search([1, 0, 0, 0], k: 3).isEmpty)
        _ = try store.upsert([VectorRecord(key: TestData.key(1), vector: [1, 0, 0, 0])])
        let hits = try store.search([1, 0.1, 0, 0], k: 3)
        #expect(hits.map(\.key) == [TestData.key(1)])
        #expect(abs(hits[0].score - 0.995037) < 1e-4)
    }
}
