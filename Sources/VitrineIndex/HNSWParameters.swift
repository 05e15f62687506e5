import Foundation

/// Parameters of a hierarchical navigable small world graph, named as in Malkov & Yashunin (2016).
public struct HNSWParameters: Sendable, Equatable, Codable {
    /// Neighbours chosen per node and layer on insertion; upper layers keep at most `M`.
    public var M: Int
    /// Size of the dynamic candidate list while inserting (recall of the graph vs build time).
    public var efConstruction: Int
    /// Size of the dynamic candidate list while searching (recall vs speed); raised to `k` if smaller.
    public var efSearch: Int
    /// Seed of the level draws.
    public var seed: UInt64

    /// Defaults chosen by measurement on 100k × 512 normalized clustered vectors (BENCHMARKS.md):
    /// M 16 and efConstruction 200 as in hnswlib's and FAISS's common settings, efSearch 64 for
    /// recall@10 ≈ 0.99.
    public init(M: Int = 16, efConstruction: Int = 200, efSearch: Int = 64, seed: UInt64 = 0x5EED) {
        self.M = M
        self.efConstruction = efConstruction
        self.efSearch = efSearch
        self.seed = seed
    }

    /// `M_max0`: the bottom layer holds twice as many links, as the paper recommends.
    public var maxNeighboursLevel0: Int { 2 * M }

    /// `mL = 1 / ln M`, the level-generation factor.
    public var levelMultiplier: Double { 1 / log(Double(M)) }

    func validate() throws {
        guard (2...256).contains(M) else { throw VectorIndexError.invalidArgument("M must be in 2...256, not \(M)") }
        guard efConstruction >= 1 else { throw VectorIndexError.invalidArgument("efConstruction must be ≥ 1") }
        guard efSearch >= 1 else { throw VectorIndexError.invalidArgument("efSearch must be ≥ 1") }
    }
}
