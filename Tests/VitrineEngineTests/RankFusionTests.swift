import Testing
import VitrineEngine

/// Reciprocal Rank Fusion against hand-computed sums.
struct RankFusionTests {
    @Test func sumsReciprocalRanksWithTheirWeights() {
        let keyword = ["a", "b", "c"], clip = ["b", "d", "a"]
        // a: 1/61 + 1/63 = 0.0322664…, b: 1/62 + 1/61 = 0.0325224…, c: 1/63, d: 1/62.
        let fused = RankFusion.reciprocalRank([keyword, clip])
        #expect(fused.map(\.id) == ["b", "a", "d", "c"])
        #expect(abs(fused[0].score - (1.0 / 62 + 1.0 / 61)) < 1e-15 && abs(fused[1].score - (1.0 / 61 + 1.0 / 63)) < 1e-15)
        #expect(abs(fused[2].score - 1.0 / 62) < 1e-15 && abs(fused[3].score - 1.0 / 63) < 1e-15)
        // Keyword weighed twice: a = 2/61 + 1/63 = 0.0486601… passes b = 2/62 + 1/61 = 0.0486509….
        #expect(RankFusion.reciprocalRank([keyword, clip], weights: [2, 1]).map(\.id) == ["a", "b", "c", "d"])
        // Another k: with k = 1, b = 1/3 + 1/2 = 0.8333… and a = 1/2 + 1/4 = 0.75, d = 1/3 = c + 1/12.
        let sharp = RankFusion.reciprocalRank([keyword, clip], k: 1)
        #expect(sharp.map(\.id) == ["b", "a", "d", "c"])
        #expect(abs(sharp[0].score - 5.0 / 6) < 1e-15 && abs(sharp[1].score - 0.75) < 1e-15 && abs(sharp[3].score - 0.25) < 1e-15)
    }

    @Test func repeatsEmptiesAndTies() {
        // A repeated id counts at its first rank only; an empty ranking adds nothing.
        let fused = RankFusion.reciprocalRank([["x", "x", "y"], []])
        #expect(fused.map(\.id) == ["x", "y"] && abs(fused[0].score - 1.0 / 61) < 1e-15 && abs(fused[1].score - 1.0 / 63) < 1e-15)
        #expect(RankFusion.reciprocalRank([]).isEmpty)
        // Equal scores: ascending byte order (B before a).
        #expect(RankFusion.reciprocalRank([["a"], ["B"]]).map(\.id) == ["B", "a"])
    }
}
