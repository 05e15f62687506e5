/// Fusion of ranked lists from several retrievers (keyword, text embedding, CLIP) into one.
public enum RankFusion {
    /// The constant of Reciprocal Rank Fusion (Cormack, Clarke and Büttcher, 2009): large enough
    /// that the first ranks of one retriever do not drown the others.
    public static let defaultK = 60.0

    /// Reciprocal Rank Fusion: each id scores Σ weight_r / (k + rank_r) over the rankings that hold
    /// it (rank 1-based; an id absent from a ranking gets nothing from it; a repeated id counts at
    /// its first rank). Best first; equal scores by id, in ascending byte order.
    public static func reciprocalRank(_ rankings: [[String]], weights: [Double]? = nil, k: Double = defaultK) -> [(id: String, score: Double)] {
        precondition(weights == nil || weights!.count == rankings.count, "one weight per ranking")
        var scores: [String: Double] = [:]
        for (r, ranking) in rankings.enumerated() {
            let weight = weights?[r] ?? 1
            var seen = Set<String>()
            for (index, id) in ranking.enumerated() where seen.insert(id).inserted {
                scores[id, default: 0] += weight / (k + Double(index + 1))
            }
        }
        return scores.map { (id: $0.key, score: $0.value) }
            .sorted { $0.score != $1.score ? $0.score > $1.score : $0.id.utf8.lexicographicallyPrecedes($1.id.utf8) }
    }
}
