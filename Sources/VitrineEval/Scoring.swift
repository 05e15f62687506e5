import VitrineCore

/// A run's metrics over a set of queries: each query's values and their means.
public struct Scores: Sendable, Codable, Equatable {
    /// The evaluated queries, in the judgements' order.
    public var queries: [String]
    /// query id → metric name (`ndcg@10`) → value.
    public var perQuery: [String: [String: Double]]
    /// metric name → mean over `queries`.
    public var mean: [String: Double]

    /// One metric's values in `queries` order.
    public func values(_ metric: String) -> [Double] { queries.map { perQuery[$0]?[metric] ?? 0 } }
}

public enum Scoring {
    /// Scores `run` against `judgements` at each cutoff. The evaluated queries are the judged
    /// ones (all of them, or those of `only`); a judged query the run lacks scores 0 and counts,
    /// as ranx's `make_comparable` and `trec_eval -c` do.
    public static func score(_ run: Run, _ judgements: Judgements, cutoffs: [Int], only: Set<String>? = nil) -> Scores {
        let queries = judgements.queries.filter { only?.contains($0) ?? true }
        var perQuery: [String: [String: Double]] = [:]
        for query in queries {
            let ranking = Ranking.order(run.scores[query] ?? []).map(\.product)
            var values: [String: Double] = [:]
            for k in cutoffs {
                for (metric, value) in RetrievalMetrics.evaluate(ranking: ranking, grades: judgements.grades[query] ?? [:], k: k) {
                    values[metric.name(k)] = value
                }
            }
            perQuery[query] = values
        }
        var mean: [String: Double] = [:]
        for k in cutoffs {
            for metric in RetrievalMetric.allCases {
                let name = metric.name(k)
                mean[name] = queries.isEmpty ? 0 : queries.reduce(0) { $0 + perQuery[$1]![name]! } / Double(queries.count)
            }
        }
        return Scores(queries: queries, perQuery: perQuery, mean: mean)
    }

    /// A percentile bootstrap interval of the mean of `values` (queries resampled with
    /// replacement, `resamples` times, a fixed seed so a report is reproducible).
    public static func interval(_ values: [Double], confidence: Double = 0.95, resamples: Int = 2000, seed: UInt64 = 17) -> (lower: Double, upper: Double) {
        guard values.count > 1 else { let only = values.first ?? 0; return (only, only) }
        var random = SplitMix64(seed: seed)
        var means: [Double] = []
        means.reserveCapacity(resamples)
        for _ in 0..<resamples {
            var sum = 0.0
            for _ in values.indices { sum += values[Int(random.next() % UInt64(values.count))] }
            means.append(sum / Double(values.count))
        }
        means.sort()
        let tail = (1 - confidence) / 2
        let low = means[min(means.count - 1, Int((tail * Double(resamples)).rounded(.down)))]
        let high = means[min(means.count - 1, Int(((1 - tail) * Double(resamples)).rounded(.down)))]
        return (low, high)
    }

    /// Two-sided p-value of a paired randomization test: how often flipping the sign of each
    /// query's difference at random gives a mean difference at least as large as the observed
    /// one. `a` and `b` are the same queries' values under two modes.
    public static func pairedPValue(_ a: [Double], _ b: [Double], permutations: Int = 10_000, seed: UInt64 = 17) -> Double {
        precondition(a.count == b.count, "paired values come in pairs")
        let differences = zip(a, b).map { $0 - $1 }
        guard !differences.isEmpty else { return 1 }
        let observed = abs(differences.reduce(0, +))
        // A tolerance for sums that differ only by rounding.
        let tolerance = 1e-12 * max(1, observed)
        var random = SplitMix64(seed: seed)
        var extreme = 0
        for _ in 0..<permutations {
            var sum = 0.0
            var bits: UInt64 = 0
            for (index, difference) in differences.enumerated() {
                if index % 64 == 0 { bits = random.next() }
                sum += (bits & 1 == 0) ? difference : -difference
                bits >>= 1
            }
            if abs(sum) >= observed - tolerance { extreme += 1 }
        }
        return Double(extreme + 1) / Double(permutations + 1)
    }
}
