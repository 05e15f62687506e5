import Foundation
import VitrineCore
import VitrineIndex
import VitrineTensor


/// The vectors and queries of an index benchmark, row-major, with their mixture labels (empty
/// for data read from files).
struct IndexBenchData {
    var vectors: [Float]
    var queries: [Float]
    var dimension: Int
    var labels: [Int]
    var queryLabels: [Int]

    var count: Int { vectors.count / dimension }
    var queryCount: Int { queries.count / dimension }
    var queryVectors: [[Float]] { (0..<queryCount).map { Array(queries[$0 * dimension..<($0 + 1) * dimension]) } }

    /// A bucket in 0..<100 per item, independent of its vector: filters on it are uncorrelated
    /// with the query.
    static func bucket(_ item: Int) -> Int {
        var random = SplitMix64(seed: UInt64(item) &+ 0xB0C4)
        return Int(random.next() % 100)
    }

    /// The records of `items`, keyed by index, with `bucket` and `cluster` attributes if asked.
    func records(_ items: Range<Int>, attributes: Bool) -> [VectorRecord] {
        items.map { i in
            VectorRecord(key: VectorKey(product: String(i)), vector: Array(vectors[i * dimension..<(i + 1) * dimension]),
                         attributes: attributes ? ["bucket": String(Self.bucket(i)), "cluster": String(labels[i])] : [:])
        }
    }

    /// `vectors.npy` and `queries.npy` in `directory`, for the peers to run the same data.
    func save(to directory: String) throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try NPYArray(float32: vectors, shape: [count, dimension]).write(to: URL(fileURLWithPath: directory + "/vectors.npy"))
        try NPYArray(float32: queries, shape: [queryCount, dimension]).write(to: URL(fileURLWithPath: directory + "/queries.npy"))
    }
}

/// A filter measured by the benchmark: its name in the report, which (item, query) pairs it
/// allows (for the exact answer and the violation count), and the store's filter per query.
struct IndexFilterCase {
    var name: String
    var allows: (Int, Int) -> Bool
    var filter: (Int) -> VectorFilter
}

/// What every search row repeats about the index it ran on.
struct IndexBuildFacts {
    var n: Int
    var dim: Int
    var buildSeconds: Double
    var memoryBytes: Int
    var indexMemoryBytes: Int
    var m: Int
    var efConstruction: Int
    var buildThreads: Int
    var k: Int
    var metric: String
}

/// One object of `vitrine-bench index --json`: a search configuration's recall and rate, or the
/// persistence check. The field names are what `bench/peers/index_peers.py` and BENCHMARKS.md read;
/// `ef_search` and `filter` are always present (null when not applicable) on search rows.
struct IndexBenchRow: Encodable {
    enum Kind { case search, persistence }
    var kind: Kind
    var library = "vitrine"
    var n: Int
    var dim: Int
    // Search rows.
    var build: IndexBuildFacts?
    var threads: Int?
    var efSearch: Int?
    var recall: Double?
    var queriesPerSecond: Double?
    var filter: String?
    var allowedFraction: Double?
    var violations: Int?
    var route: String?
    var algorithm: String?
    // The persistence row.
    var snapshotSeconds: Double?
    var loadSeconds: Double?
    var sameResults: Bool?

    static func search(_ build: IndexBuildFacts, threads: Int, efSearch: Int?, recall: Double, queriesPerSecond: Double) -> Self {
        IndexBenchRow(kind: .search, n: build.n, dim: build.dim, build: build, threads: threads, efSearch: efSearch,
                      recall: recall, queriesPerSecond: queriesPerSecond)
    }

    static func persistence(n: Int, dim: Int, snapshotSeconds: Double, loadSeconds: Double, sameResults: Bool) -> Self {
        IndexBenchRow(kind: .persistence, n: n, dim: dim, snapshotSeconds: snapshotSeconds, loadSeconds: loadSeconds,
                      sameResults: sameResults)
    }

    enum CodingKeys: String, CodingKey {
        case library, n, dim, threads, efSearch = "ef_search", recall = "recall_at_10", queriesPerSecond = "queries_per_second"
        case buildSeconds = "build_seconds", memoryBytes = "memory_bytes", indexMemoryBytes = "index_memory_bytes", m
        case efConstruction = "ef_construction", buildThreads = "build_threads", k, metric, filter
        case allowedFraction = "allowed_fraction", violations, route, algorithm
        case snapshotSeconds = "snapshot_seconds", loadSeconds = "load_seconds", sameResults = "reopened_same_results"
    }

    func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(library, forKey: .library)
        try c.encode(n, forKey: .n)
        try c.encode(dim, forKey: .dim)
        switch kind {
        case .search:
            try c.encodeIfPresent(threads, forKey: .threads)
            try c.encode(efSearch, forKey: .efSearch)  // null for exact search
            try c.encodeIfPresent(recall, forKey: .recall)
            try c.encodeIfPresent(queriesPerSecond, forKey: .queriesPerSecond)
            if let build {
                try c.encode(build.buildSeconds, forKey: .buildSeconds)
                try c.encode(build.memoryBytes, forKey: .memoryBytes)
                try c.encode(build.indexMemoryBytes, forKey: .indexMemoryBytes)
                try c.encode(build.m, forKey: .m)
                try c.encode(build.efConstruction, forKey: .efConstruction)
                try c.encode(build.buildThreads, forKey: .buildThreads)
                try c.encode(build.k, forKey: .k)
                try c.encode(build.metric, forKey: .metric)
            }
            try c.encode(filter, forKey: .filter)  // null without a filter
            try c.encodeIfPresent(allowedFraction, forKey: .allowedFraction)
            try c.encodeIfPresent(violations, forKey: .violations)
            try c.encodeIfPresent(route, forKey: .route)
            try c.encodeIfPresent(algorithm, forKey: .algorithm)
        case .persistence:
            try c.encodeIfPresent(snapshotSeconds, forKey: .snapshotSeconds)
            try c.encodeIfPresent(loadSeconds, forKey: .loadSeconds)
            try c.encodeIfPresent(sameResults, forKey: .sameResults)
        }
    }
}
