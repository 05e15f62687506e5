import Testing
@testable import VitrineIndex

@Suite struct FilterTests {
    static let data = TestData.mixture(count: 6000, dimension: 48, clusters: 30, queries: 60)
    static var queryData: (vectors: [[Float]], labels: [Int]) { (data.queries, data.queryLabels) }
    static let store: EmbeddedVectorStore = {
        let store = try! EmbeddedVectorStore(configuration: TestData.hnsw(dimension: 48))
        _ = try! store.upsert(TestData.records(data.vectors, labels: data.labels))
        return store
    }()

    static func bucket(_ i: Int) -> Int { i * 7919 % 100 }

    /// Filters allowing 1%, 10%, 50% of items and the query's own cluster: every result passes,
    /// recall against exact filtered search stays high, whichever path (exact, graph) answers.
    @Test(arguments: [1, 10, 50, -1])
    func filteredResultsPassAndKeepRecall(percent: Int) throws {
        var found: [[VectorKey]] = []
        var truth: [[VectorKey]] = []
        for (qi, q) in Self.queryData.vectors.enumerated() {
            let cluster = Self.queryData.labels[qi]
            let filter = percent < 0
                ? VectorFilter(["cluster": [String(cluster)]])
                : VectorFilter(["bucket": Set((0..<percent).map(String.init))])
            let allows = { (i: Int) in percent < 0 ? Self.data.labels[i] == cluster : Self.bucket(i) < percent }
            let hits = try Self.store.search(q, k: 10, filter: filter)
            for hit in hits {
                let i = Int(hit.key.product.dropFirst())!
                #expect(allows(i), "\(hit.key) does not pass the filter")
            }
            found.append(hits.map(\.key))
            truth.append(TestData.bruteForce(q, Self.data.vectors, k: 10, metric: .cosine, where: allows))
            #expect(hits.count == truth.last!.count)
        }
        let recall = TestData.recall(found, truth)
        #expect(recall >= 0.95, "recall@10 \(recall) at \(percent)%")
    }

    @Test func routesFollowSelectivity() {
        #expect(Self.store.searchRoute(for: nil) == "graph")
        #expect(Self.store.searchRoute(for: VectorFilter(["bucket": ["0"]])) == "exact")
        #expect(Self.store.searchRoute(for: VectorFilter(["bucket": Set((0..<30).map(String.init))])) != "exact")
    }

    @Test func conditionsCombineAndUnknownValuesMatchNothing() throws {
        let q = Self.queryData.vectors[0]
        let hits = try Self.store.search(q, k: 10, filter: VectorFilter(["cluster": ["3", "4"], "bucket": Set((0..<50).map(String.init))]))
        for hit in hits {
            let i = Int(hit.key.product.dropFirst())!
            #expect([3, 4].contains(Self.data.labels[i]) && Self.bucket(i) < 50)
        }
        #expect(try Self.store.search(q, k: 10, filter: VectorFilter(["cluster": ["nope"]])).isEmpty)
        #expect(try Self.store.search(q, k: 10, filter: VectorFilter(["colour": ["red"]])).isEmpty)
        let products = try Self.store.search(q, k: 10, filter: VectorFilter(products: ["p1", "p2"]))
        #expect(Set(products.map(\.key.product)) == ["p1", "p2"])
    }

    @Test func deletedItemsNeverPassAFilter() throws {
        let store = try EmbeddedVectorStore(configuration: TestData.hnsw(dimension: 48))
        let vectors = Array(Self.data.vectors.prefix(3000))
        _ = try store.upsert(TestData.records(vectors, labels: Array(Self.data.labels.prefix(3000))))
        let cluster = Self.data.labels[0]
        let members = (0..<3000).filter { Self.data.labels[$0] == cluster }
        _ = try store.delete(members.prefix(members.count / 2).map(TestData.key))
        let hits = try store.search(vectors[0], k: 200, filter: VectorFilter(["cluster": [String(cluster)]]))
        #expect(Set(hits.map(\.key)) == Set(members.suffix(members.count - members.count / 2).map(TestData.key)))
    }
}
