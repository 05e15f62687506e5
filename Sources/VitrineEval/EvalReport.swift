/// What `vitrine eval` reports: per mode, the metrics (means with bootstrap intervals), the
/// latency, the breakdown by category and market, and each query's values (so `eval compare`
/// can test two reports' difference); between modes, paired tests.
public struct EvalReport: Sendable, Codable, Equatable {
    public struct Interval: Sendable, Codable, Equatable {
        public var lower: Double
        public var upper: Double
    }

    public struct Slice: Sendable, Codable, Equatable {
        public var queries: Int
        public var metrics: [String: Double]
    }

    public struct Latency: Sendable, Codable, Equatable {
        public var p50: Double
        public var p99: Double
    }

    public struct Mode: Sendable, Codable, Equatable {
        public var mode: String
        public var metrics: [String: Double]
        public var intervals: [String: Interval]
        /// Query latency in milliseconds (the search call, encoder included).
        public var latencyMs: Latency
        /// Queries the mode cannot answer (a photo in keyword mode): scored 0, counted here.
        public var unsupported: Int
        public var byCategory: [String: Slice]
        public var byMarket: [String: Slice]
        /// query id → metric → value.
        public var perQuery: [String: [String: Double]]
        /// query id → the products it returned, best first (at most k).
        public var rankings: [String: [String]]
    }

    public struct Comparison: Sendable, Codable, Equatable {
        public var a: String
        public var b: String
        public var metric: String
        /// a − b.
        public var delta: Double
        /// Two-sided paired randomization test.
        public var pValue: Double
    }

    /// What the inputs did not match, reported rather than fatal (unless `--strict`).
    public struct Warnings: Sendable, Codable, Equatable {
        public var judgedQueriesWithoutQuery: [String] = []
        public var queriesWithoutJudgements: [String] = []
        public var unknownProducts: [String] = []
        public init() {}
    }

    public var k: Int
    public var queries: Int
    public var modes: [Mode]
    public var comparisons: [Comparison]
    public var warnings: Warnings

    public init(k: Int, queries: Int, modes: [Mode], comparisons: [Comparison], warnings: Warnings) {
        self.k = k
        self.queries = queries
        self.modes = modes
        self.comparisons = comparisons
        self.warnings = warnings
    }

    /// The metric names of one cutoff, in a fixed order.
    public static func metricNames(_ k: Int) -> [String] { RetrievalMetric.allCases.map { $0.name(k) } }

    /// Paired tests between every two modes on every metric at `k`.
    public static func comparisons(_ modes: [Mode], queries: [String], k: Int) -> [Comparison] {
        var comparisons: [Comparison] = []
        for (i, a) in modes.enumerated() {
            for b in modes.dropFirst(i + 1) {
                for metric in metricNames(k) {
                    let x = queries.map { a.perQuery[$0]?[metric] ?? 0 }
                    let y = queries.map { b.perQuery[$0]?[metric] ?? 0 }
                    comparisons.append(Comparison(a: a.mode, b: b.mode, metric: metric, delta: (a.metrics[metric] ?? 0) - (b.metrics[metric] ?? 0),
                                                  pValue: Scoring.pairedPValue(x, y)))
                }
            }
        }
        return comparisons
    }

    /// The mode's results as metric → mean, intervals and slices, from its scores.
    public static func mode(_ name: String, scores: Scores, run: Run, k: Int, latencies: [Double], unsupported: Int,
                            slices: (category: [String: String], market: [String: String])) -> Mode {
        var intervals: [String: Interval] = [:]
        for metric in metricNames(k) {
            let (lower, upper) = Scoring.interval(scores.values(metric))
            intervals[metric] = Interval(lower: lower, upper: upper)
        }
        func breakdown(_ groups: [String: String]) -> [String: Slice] {
            var members: [String: [String]] = [:]
            for query in scores.queries { members[groups[query] ?? "(none)", default: []].append(query) }
            return members.mapValues { queries in
                Slice(queries: queries.count, metrics: Dictionary(uniqueKeysWithValues: metricNames(k).map { metric in
                    (metric, queries.reduce(0) { $0 + (scores.perQuery[$1]?[metric] ?? 0) } / Double(queries.count))
                }))
            }
        }
        let sorted = latencies.sorted()
        // Nearest rank: the smallest value with at least p of them at or below it.
        func percentile(_ p: Double) -> Double {
            guard !sorted.isEmpty else { return 0 }
            return sorted[min(sorted.count - 1, max(0, Int((p * Double(sorted.count)).rounded(.up)) - 1))]
        }
        return Mode(mode: name, metrics: scores.mean.filter { metricNames(k).contains($0.key) }, intervals: intervals,
                    latencyMs: Latency(p50: percentile(0.5), p99: percentile(0.99)), unsupported: unsupported,
                    byCategory: breakdown(slices.category), byMarket: breakdown(slices.market), perQuery: scores.perQuery,
                    rankings: Dictionary(uniqueKeysWithValues: scores.queries.map { ($0, Ranking.order(run.scores[$0] ?? []).prefix(k).map(\.product)) }))
    }
}
