import Foundation
import Testing
import VitrineCore
import VitrineIndex
import VitrineSynthetic
@testable import VitrineMilvus

/// Milvus's HNSW against the embedded exact index: on 20,000 random unit vectors of CLIP's
/// dimension, clustered as embeddings are (the benchmarks' Gaussian mixture: 200 centres, noise
/// 0.6), top-10 recall against exact search at the default `ef` and at a wider one, the same `ef`
/// both HNSW stores are given (the embedded HNSW must reach 0.99 too). The graph is built and
/// served first (`settle`), so the recall is the graph's, not that of Milvus's interim
/// index over rows not yet sealed.
///
/// The filters pass 100%, 10%, 7% and 33% of the rows. Under the 10% filter Milvus 2.3.5's own
/// filtered walk found 0.92 of the neighbours at ef 64 and 0.98 at ef 256; the store widens its
/// beam by the inverse of the passing fraction, so recall holds under every filter: over the
/// whole set at 0.99, per filter at 0.96. The per-filter bound has room because Milvus does not
/// answer the same request the same way twice: under the 10% filter, at the same widened beam,
/// one query found 10 of its true neighbours and then 9, and that filter's figure over 25 queries
/// ranged from 0.972 to 1.000 across runs (2026-12-05); the other filters gave 1.000.
///
/// (Isotropic random vectors in 512 dimensions are no test of an index: every point is nearly
/// orthogonal to every other, and neither HNSW reaches 0.99 there even at ef 2000.)
@Suite(.enabled(if: MilvusTestServer.url != nil, "needs VITRINE_TEST_MILVUS_URL (scripts/servers.sh)"))
struct RecallTests {
    static let count = 20_000
    static let dimension = 512

    @Test func top10RecallAgainstExactSearch() throws {
        let mixture = GaussianMixture(dimension: Self.dimension, clusters: 200, spread: 0.6, seed: 15)
        let points = mixture.sample(count: Self.count, stream: 0).vectors
        let queryPoints = mixture.sample(count: 100, stream: 1).vectors
        let categories = (0..<10).map { "category-\($0)" }
        let markets = ["cz", "sk", "hu"]
        let records = (0..<Self.count).map { i in
            VectorRecord(key: VectorKey(product: "p\(i / 2)", image: "\(i % 2)"),
                         vector: Array(points[i * Self.dimension ..< (i + 1) * Self.dimension]),
                         attributes: ["category": categories[i % categories.count], "market": markets[(i / 10) % markets.count]])
        }
        let exact = try EmbeddedVectorStore(configuration: VectorStoreConfiguration(dimension: Self.dimension, algorithm: .exact))
        _ = try exact.upsert(records)
        let graph = try EmbeddedVectorStore(configuration: VectorStoreConfiguration(dimension: Self.dimension, algorithm: .hnsw(HNSWParameters())))
        _ = try graph.upsert(records)

        let space = try MilvusTestServer.space()
        defer { MilvusTestServer.dispose(space) }
        let milvus = try space.openStore("index", dimension: Self.dimension, writer: true)
        _ = try milvus.upsert(records)
        try milvus.settle()
        #expect(try milvus.count() == Self.count)

        let filters: [VectorFilter?] = [
            nil, .attribute("category", in: ["category-3"]), VectorFilter(["category": ["category-1", "category-7"], "market": ["sk"]]),
            .attribute("market", in: ["hu"]),
        ]
        let attributes = Dictionary(uniqueKeysWithValues: records.map { ($0.key, $0.attributes) })
        for ef in [64, 256] {
            var found = 0, wanted = 0, embeddedFound = 0
            var perFilter: [String] = []
            for (f, filter) in filters.enumerated() {
                var hitsHere = 0, wantedHere = 0
                for q in 0..<25 {
                    let query = Array(queryPoints[(f * 25 + q) * Self.dimension ..< (f * 25 + q + 1) * Self.dimension])
                    let truth = Set(try exact.search(query, k: 10, filter: filter, ef: nil).map(\.key))
                    let answer = try milvus.search(query, k: 10, filter: filter, ef: ef)
                    #expect(answer.allSatisfy { hit in filter == nil || attributes[hit.key].map { row in
                        filter!.conditions.allSatisfy { $0.value.contains(row[$0.key] ?? "") } } == true })
                    hitsHere += answer.filter { truth.contains($0.key) }.count
                    embeddedFound += try graph.search(query, k: 10, filter: filter, ef: ef).filter { truth.contains($0.key) }.count
                    wantedHere += truth.count
                }
                let recallHere = Double(hitsHere) / Double(wantedHere)
                perFilter.append("filter \(f): \(String(format: "%.3f", recallHere))")
                // 25 queries, 250 neighbours: one filter's figure moves by 0.004 per neighbour.
                #expect(recallHere >= 0.96, "recall \(recallHere) with filter \(f) at ef \(ef)")
                found += hitsHere
                wanted += wantedHere
            }
            let recall = Double(found) / Double(wanted)
            print("Milvus HNSW top-10 recall at ef \(ef) over \(Self.count) vectors: \(String(format: "%.4f", recall)) "
                  + "(\(perFilter.joined(separator: ", "))); embedded HNSW \(String(format: "%.4f", Double(embeddedFound) / Double(wanted)))")
            #expect(recall >= 0.99, "Milvus at ef \(ef)")
            #expect(Double(embeddedFound) / Double(wanted) >= 0.99, "the embedded HNSW at ef \(ef)")
        }
    }
}
