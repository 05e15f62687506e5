/// The ranking metrics of `vitrine eval` at a cutoff k, as docs/eval-metrics.md defines them:
/// trec_eval's (pytrec_eval's) values on every run, ranx's whenever ranx ranks ties the same way.
public enum RetrievalMetric: String, CaseIterable, Sendable, Codable {
    case recall, precision, mrr, ndcg, map
    case hitRate = "hit_rate"

    /// `recall@10`, …
    public func name(_ k: Int) -> String { "\(rawValue)@\(k)" }

    /// Parses `recall@10` into the metric and its cutoff.
    public static func parse(_ name: String) -> (RetrievalMetric, Int)? {
        let parts = name.split(separator: "@", maxSplits: 1)
        guard parts.count == 2, let metric = RetrievalMetric(rawValue: String(parts[0])), let k = Int(parts[1]), k >= 1 else { return nil }
        return (metric, k)
    }
}

public enum RetrievalMetrics {
    /// The six metrics of one query at cutoff `k`: `ranking` is the retrieved products best first
    /// (``Ranking`` order), `grades` the query's judgements. Relevant = grade ≥ 1; with no
    /// relevant judgement every metric is 0.
    public static func evaluate(ranking: [String], grades: [String: Int], k: Int) -> [RetrievalMetric: Double] {
        precondition(k >= 1, "a cutoff is at least 1")
        let relevant = grades.values.filter { $0 >= 1 }.count
        var values = Dictionary(uniqueKeysWithValues: RetrievalMetric.allCases.map { ($0, 0.0) })
        guard relevant > 0 else { return values }

        var hits = 0
        var firstHit: Int?
        var dcg = 0.0
        var precisionSum = 0.0
        for (index, product) in ranking.prefix(k).enumerated() {
            let grade = grades[product] ?? 0
            guard grade >= 1 else { continue }
            let rank = index + 1
            hits += 1
            if firstHit == nil { firstHit = rank }
            dcg += Double(grade) / log2(Double(rank + 1))
            precisionSum += Double(hits) / Double(rank)
        }
        var ideal = 0.0
        for (index, grade) in grades.values.filter({ $0 >= 1 }).sorted(by: >).prefix(k).enumerated() {
            ideal += Double(grade) / log2(Double(index + 2))
        }
        values[.recall] = Double(hits) / Double(relevant)
        values[.precision] = Double(hits) / Double(k)
        values[.mrr] = firstHit.map { 1 / Double($0) } ?? 0
        values[.ndcg] = ideal > 0 ? dcg / ideal : 0
        values[.map] = precisionSum / Double(relevant)
        values[.hitRate] = hits > 0 ? 1 : 0
        return values
    }
}

import Foundation
