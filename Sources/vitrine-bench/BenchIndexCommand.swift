import ArgumentParser
import Dispatch
import Foundation
import VitrineCommandLine
import VitrineIndex
import VitrineTensor

/// `vitrine-bench index`: builds the embedded HNSW index on a clustered synthetic set (or your own
/// `.npy` embeddings) and reports recall@10 against exact search, queries/s per thread count and
/// ef, build time and memory — the numbers `bench/peers/index.sh` sets beside hnswlib and FAISS.
struct BenchIndex: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "index",
        abstract: "Benchmark the vector index: recall@10, queries/s, build time, memory.",
        discussion: """
        Synthetic data (default): a normalized Gaussian mixture, --clusters centres in --dim \
        dimensions, each point centre + --spread × noise of the same norm, normalized; queries \
        from the same mixture. Deterministic for a --seed. --save-data DIR writes vectors.npy and \
        queries.npy so other libraries can run the same data.
        """
    )

    @Option(help: "Vectors to index (synthetic).") var n = 100_000
    @Option(help: "Dimension (synthetic).") var dim = 512
    @Option(help: "Number of queries, or a float32 .npy matrix of queries.") var queries = "1000"
    @Option(help: "A float32 .npy matrix of vectors to index instead of synthetic data.") var vectors: String?
    @Option(name: .customLong("m"), help: "HNSW M.") var m = 16
    @Option(name: .customLong("ef-construction"), help: "HNSW efConstruction.") var efConstruction = 200
    @Option(help: "efSearch values, comma-separated.") var ef = "16,32,64,128"
    @Option(help: "Query thread counts, comma-separated.") var threads = "1,2"
    @Option(name: .customLong("build-threads"), help: "Threads that build the graph.")
    var buildThreads = ProcessInfo.processInfo.activeProcessorCount
    @Option(help: "Neighbours per query (recall@k).") var k = 10
    @Option(help: "Metric: cosine, ip or l2.") var metric = "cosine"
    @Option(help: "Seed of the synthetic data.") var seed: UInt64 = 1
    @Option(help: "Mixture centres (synthetic).") var clusters = 200
    @Option(help: "Noise norm relative to the centre (synthetic).") var spread = 0.6
    @Flag(help: "Also measure filtered search: filters allowing 1%, 10%, 50%, and the query's own cluster (synthetic only).")
    var filters = false
    @Option(name: .customLong("filter-ef"), help: "efSearch for the filtered runs.") var filterEf = 64
    @Flag(help: "Also measure exact (brute-force) search.") var exact = false
    @Option(name: .customLong("filter-exact-below"), help: "Filters allowing at most this fraction use exact search.")
    var filterExactBelow = 0.02
    @Option(name: .customLong("filter-two-hop-below"), help: "Filters allowing less than this fraction use the two-hop graph walk.")
    var filterTwoHopBelow = 0.3
    @Option(name: .customLong("save-data"), help: "Write vectors.npy and queries.npy to this directory.")
    var saveData: String?
    @Option(help: "Also write the index to this directory and time the snapshot and a reopen.")
    var persist: String?
    @Option(help: "Search an existing index directory (written by --persist on the same data) instead of building.")
    var open: String?
    @Flag(name: .customLong("data-only"), help: "Only generate and write the data (with --save-data), then stop.")
    var dataOnly = false
    @Flag(help: "Print one JSON array, an object per configuration.") var json = false

    /// Usage errors (exit 2 by ArgumentParser's conventions) before anything runs.
    func validate() throws {
        guard Metric(rawValue: metric) != nil else { throw ValidationError("--metric must be cosine, ip or l2") }
        _ = try CLI.integers(ef, option: "--ef", in: 1...Int.max)
        _ = try CLI.integers(threads, option: "--threads", in: 1...Int.max)
        guard k > 0, m >= 2, efConstruction > 0, n > 0, dim > 0, buildThreads > 0 else {
            throw ValidationError("--n, --dim, --k, --ef-construction and --build-threads must be positive, --m at least 2")
        }
        if dataOnly && saveData == nil { throw ValidationError("--data-only needs --save-data DIR") }
    }

    func run() throws {
        try CLI.run { try benchmark() }
    }

    private func log(_ message: String) {
        if !json { print(message) } else { FileHandle.standardError.write(Data("\(message)\n".utf8)) }
    }

    private func benchmark() throws {
        guard let metric = Metric(rawValue: metric) else { throw ValidationError("--metric must be cosine, ip or l2") }
        let efs = try CLI.integers(ef, option: "--ef", in: 1...Int.max)
        let threadCounts = try CLI.integers(threads, option: "--threads", in: 1...Int.max)
        guard k > 0, m >= 2, efConstruction > 0 else { throw ValidationError("--k, --m and --ef-construction must be positive") }

        // Data.
        var data: [Float]
        var queryData: [Float]
        var dimension = dim
        var labels: [Int] = []
        var queryLabels: [Int] = []
        if let vectors {
            let a = try NPYArray(contentsOf: URL(fileURLWithPath: vectors))
            guard a.shape.count == 2, a.dtype == .float32 else { throw ValidationError("\(vectors): expected a 2-D float32 matrix") }
            data = a.floats()
            dimension = a.shape[1]
        } else {
            let start = Date()
            (data, labels) = Self.mixture(count: n, dimension: dim, clusters: clusters, spread: Float(spread), seed: seed, stream: 0)
            log("generated \(n) × \(dim) in \(String(format: "%.1f", Date().timeIntervalSince(start))) s")
        }
        if let count = Int(queries) {
            guard vectors == nil else { throw ValidationError("with --vectors, --queries must be a .npy path") }
            (queryData, queryLabels) = Self.mixture(count: count, dimension: dim, clusters: clusters, spread: Float(spread), seed: seed, stream: 1)
        } else {
            let a = try NPYArray(contentsOf: URL(fileURLWithPath: queries))
            guard a.shape.count == 2, a.dtype == .float32, a.shape[1] == dimension else {
                throw ValidationError("\(queries): expected a float32 matrix with \(dimension) columns")
            }
            queryData = a.floats()
        }
        let count = data.count / dimension
        let queryCount = queryData.count / dimension
        if metric == .cosine {
            Self.normalizeRows(&data, dimension)
            Self.normalizeRows(&queryData, dimension)
        }
        if let saveData {
            try FileManager.default.createDirectory(atPath: saveData, withIntermediateDirectories: true)
            try NPYArray(float32: data, shape: [count, dimension]).write(to: URL(fileURLWithPath: saveData + "/vectors.npy"))
            try NPYArray(float32: queryData, shape: [queryCount, dimension]).write(to: URL(fileURLWithPath: saveData + "/queries.npy"))
        }
        if dataOnly {
            guard saveData != nil else { throw ValidationError("--data-only needs --save-data DIR") }
            log("wrote \(count) vectors and \(queryCount) queries to \(saveData!)")
            return
        }

        // Filters over the synthetic labels: a bucket per item (uncorrelated with the query) and
        // the cluster (correlated: each query is filtered to its own cluster).
        let bucket = { (i: Int) -> Int in
            var random = SplitMix64(seed: UInt64(i) &+ 0xB0C4)
            return Int(random.next() % 100)
        }
        struct FilterCase { var name: String; var allows: (Int, Int) -> Bool; var filter: (Int) -> VectorFilter }
        var filterCases: [FilterCase] = []
        let useFilters = filters && vectors == nil
        if useFilters {
            for percent in [1, 10, 50] {
                let values = Set((0..<percent).map(String.init))
                filterCases.append(FilterCase(
                    name: "\(percent)%", allows: { item, _ in bucket(item) < percent },
                    filter: { _ in VectorFilter(["bucket": values]) }))
            }
            filterCases.append(FilterCase(
                name: "cluster", allows: { item, query in labels[item] == queryLabels[query] },
                filter: { query in VectorFilter(["cluster": [String(queryLabels[query])]]) }))
        }

        // Ground truth: exact top-k by one GEMM per block of vectors.
        let truthStart = Date()
        let truth = Self.groundTruth(data: data, queries: queryData, dimension: dimension, k: k, metric: metric,
                                     cases: [{ _, _ in true }] + filterCases.map(\.allows))
        log("exact ground truth in \(String(format: "%.1f", Date().timeIntervalSince(truthStart))) s")

        // Build.
        let parameters = HNSWParameters(M: m, efConstruction: efConstruction, efSearch: efs.first ?? 64)
        let rssBefore = Self.residentBytes()
        let configuration = VectorStoreConfiguration(
            dimension: dimension, metric: metric, algorithm: .hnsw(parameters), buildThreads: buildThreads, syncWrites: false,
            filterExactFraction: filterExactBelow, filterTwoHopFraction: filterTwoHopBelow)
        let store: EmbeddedVectorStore
        let buildStart = Date()
        if let open {
            store = try EmbeddedVectorStore(directory: URL(fileURLWithPath: open), configuration: configuration)
            log("opened \(open) in \(String(format: "%.2f", Date().timeIntervalSince(buildStart))) s")
        } else {
            store = try EmbeddedVectorStore(configuration: configuration)
            store.reserveCapacity(count)
            store.applyChunk = 10_000
            let batch = 2_000
            for start in stride(from: 0, to: count, by: batch) {
                let records = (start..<min(start + batch, count)).map { i in
                    var attributes: [String: String] = [:]
                    if useFilters {
                        attributes = ["bucket": String(bucket(i)), "cluster": String(labels[i])]
                    }
                    return VectorRecord(key: VectorKey(product: String(i)),
                                        vector: Array(data[i * dimension..<(i + 1) * dimension]), attributes: attributes)
                }
                _ = try store.upsert(records)
            }
        }
        let buildSeconds = Date().timeIntervalSince(buildStart)
        let memory = Self.residentBytes() - rssBefore
        log("\(open == nil ? "built" : "opened") \(count) × \(dimension) (M \(m), efConstruction \(efConstruction), \(buildThreads) threads) in \(String(format: "%.1f", buildSeconds)) s; RSS +\(memory >> 20) MiB, index accounts \(store.memoryBytes >> 20) MiB")

        var rows: [[String: Any]] = []
        func row(threads: Int, ef: Int?, recall: Double, qps: Double, extra: [String: Any] = [:]) {
            var r: [String: Any] = [
                "library": "vitrine", "n": count, "dim": dimension, "threads": threads, "ef_search": ef as Any,
                "recall_at_10": recall, "queries_per_second": qps, "build_seconds": buildSeconds,
                "memory_bytes": memory, "index_memory_bytes": store.memoryBytes, "m": m,
                "ef_construction": efConstruction, "build_threads": buildThreads, "k": k, "metric": metric.rawValue,
                "filter": NSNull(),
            ]
            for (key, value) in extra { r[key] = value }
            rows.append(r)
        }

        // Unfiltered search.
        let queryVectors = (0..<queryCount).map { Array(queryData[$0 * dimension..<($0 + 1) * dimension]) }
        for efSearch in efs {
            for t in threadCounts {
                let (results, seconds) = try Self.timedSearch(count: queryCount, threads: t) { [k] i in
                    try store.search(queryVectors[i], k: k, filter: nil, ef: efSearch)
                }
                let recall = Self.recall(results, truth[0])
                let qps = Double(queryCount) / seconds
                row(threads: t, ef: efSearch, recall: recall, qps: qps)
                log(String(format: "ef %4d  threads %d  recall@%d %.4f  %8.0f queries/s", efSearch, t, k, recall, qps))
            }
        }

        // Filtered search.
        for (index, filterCase) in filterCases.enumerated() {
            let filters = (0..<queryCount).map(filterCase.filter)
            let (results, seconds) = try Self.timedSearch(count: queryCount, threads: 1) { [k, filterEf] i in
                try store.search(queryVectors[i], k: k, filter: filters[i], ef: filterEf)
            }
            // Every result must pass its query's filter.
            var violations = 0
            for (qi, hits) in results.enumerated() {
                for id in hits where !filterCase.allows(id, qi) { violations += 1 }
            }
            let recall = Self.recall(results, truth[index + 1])
            let qps = Double(queryCount) / seconds
            let allowed = (0..<min(count, 20_000)).filter { filterCase.allows($0, 0) }.count
            let route = store.searchRoute(for: filters[0])
            row(threads: 1, ef: filterEf, recall: recall, qps: qps, extra: [
                "filter": filterCase.name, "allowed_fraction": Double(allowed) / Double(min(count, 20_000)),
                "violations": violations, "route": route,
            ])
            log(String(format: "filter %-7@ ef %d  recall@%d %.4f  %8.0f queries/s  route %@  violations %d",
                       filterCase.name, filterEf, k, recall, qps, route, violations))
        }

        let batch = 2_000
        if exact {
            let exactStore = try EmbeddedVectorStore(configuration: VectorStoreConfiguration(
                dimension: dimension, metric: metric, algorithm: .exact, syncWrites: false))
            exactStore.reserveCapacity(count)
            for start in stride(from: 0, to: count, by: batch) {
                _ = try exactStore.upsert((start..<min(start + batch, count)).map { i in
                    VectorRecord(key: VectorKey(product: String(i)), vector: Array(data[i * dimension..<(i + 1) * dimension]))
                })
            }
            let sample = Array(queryVectors.prefix(max(1, min(queryCount, 200))))
            for t in threadCounts {
                let (results, seconds) = try Self.timedSearch(count: sample.count, threads: t) { [k] i in
                    try exactStore.search(sample[i], k: k, filter: nil)
                }
                let recall = Self.recall(results, Array(truth[0].prefix(sample.count)))
                let qps = Double(sample.count) / seconds
                row(threads: t, ef: nil, recall: recall, qps: qps, extra: ["algorithm": "exact"])
                log(String(format: "exact    threads %d  recall@%d %.4f  %8.0f queries/s", t, k, recall, qps))
            }
        }

        if let persist {
            let url = URL(fileURLWithPath: persist)
            try? FileManager.default.removeItem(at: url)
            let snapshotStart = Date()
            try store.writeSnapshot(to: url)
            let snapshotSeconds = Date().timeIntervalSince(snapshotStart)
            let loadStart = Date()
            let reopened = try EmbeddedVectorStore(directory: url, configuration: store.configuration)
            let loadSeconds = Date().timeIntervalSince(loadStart)
            let reopenedCount = try reopened.count()
            let same = try queryVectors.prefix(20).allSatisfy {
                try reopened.search($0, k: k, filter: nil) == store.search($0, k: k, filter: nil)
            }
            try reopened.close()
            log(String(format: "persist: snapshot written in %.2f s, reopened in %.2f s (%d vectors, same results: %@)",
                       snapshotSeconds, loadSeconds, reopenedCount, same ? "yes" : "NO"))
            rows.append(["library": "vitrine", "n": count, "dim": dimension, "snapshot_seconds": snapshotSeconds,
                         "load_seconds": loadSeconds, "reopened_same_results": same])
        }

        if json {
            let out = try JSONSerialization.data(withJSONObject: rows, options: [.sortedKeys])
            print(String(decoding: out, as: UTF8.self))
        }
    }

    // MARK: Helpers

    /// A normalized Gaussian mixture: centre ~ N(0, I) normalized, point = centre + spread · g/‖g‖·‖…‖
    /// (g ~ N(0, I) scaled to norm `spread`), normalized. `stream` separates vectors from queries.
    static func mixture(count: Int, dimension: Int, clusters: Int, spread: Float, seed: UInt64, stream: UInt64) -> ([Float], [Int]) {
        var centreRandom = SplitMix64(seed: seed)
        var centres = [Float](repeating: 0, count: clusters * dimension)
        for i in centres.indices { centres[i] = Float(centreRandom.nextGaussian()) }
        normalizeRows(&centres, dimension)
        var random = SplitMix64(seed: seed &* 0x9E37_79B9 &+ stream &+ 1)
        var out = [Float](repeating: 0, count: count * dimension)
        var labels = [Int](repeating: 0, count: count)
        let noiseScale = spread / Float(dimension).squareRoot()
        for i in 0..<count {
            let c = Int(random.next() % UInt64(clusters))
            labels[i] = c
            for j in 0..<dimension {
                out[i * dimension + j] = centres[c * dimension + j] + noiseScale * Float(random.nextGaussian())
            }
        }
        normalizeRows(&out, dimension)
        return (out, labels)
    }

    static func normalizeRows(_ x: inout [Float], _ dimension: Int) {
        for r in 0..<x.count / dimension {
            var s: Float = 0
            for j in 0..<dimension { s += x[r * dimension + j] * x[r * dimension + j] }
            let scale = s > 0 ? 1 / s.squareRoot() : 0
            for j in 0..<dimension { x[r * dimension + j] *= scale }
        }
    }

    /// Exact top-k ids per query for each case (a predicate on (item, query)), from blocks of
    /// `queries × vectorsᵀ` computed by GEMM.
    static func groundTruth(data: [Float], queries: [Float], dimension: Int, k: Int, metric: Metric,
                            cases: [(Int, Int) -> Bool]) -> [[[Int]]] {
        let n = data.count / dimension
        let q = queries.count / dimension
        let block = 20_000
        var best = [[[(Float, Int)]]](repeating: [[(Float, Int)]](repeating: [], count: q), count: cases.count)
        var scores = [Float](repeating: 0, count: q * block)
        var norms = [Float](repeating: 0, count: n)
        if metric == .l2 {
            for i in 0..<n { var s: Float = 0; for j in 0..<dimension { s += data[i * dimension + j] * data[i * dimension + j] }; norms[i] = s }
        }
        for start in stride(from: 0, to: n, by: block) {
            let rows = min(block, n - start)
            data.withUnsafeBufferPointer { d in
                queries.withUnsafeBufferPointer { qs in
                    scores.withUnsafeMutableBufferPointer { s in
                        BLAS.gemm(m: q, n: rows, k: dimension, a: qs.baseAddress!, lda: dimension,
                                  b: d.baseAddress! + start * dimension, ldb: dimension, transposeB: true,
                                  c: s.baseAddress!, ldc: rows)
                    }
                }
            }
            for qi in 0..<q {
                for (ci, allows) in cases.enumerated() {
                    var top = best[ci][qi]
                    for j in 0..<rows where allows(start + j, qi) {
                        // Larger is better: dot, or −‖x‖² + 2 q·x for L2 (‖q‖² is constant per query).
                        let score = metric == .l2 ? 2 * scores[qi * rows + j] - norms[start + j] : scores[qi * rows + j]
                        if top.count < k || score > top[top.count - 1].0 {
                            var at = top.count
                            while at > 0 && top[at - 1].0 < score { at -= 1 }
                            top.insert((score, start + j), at: at)
                            if top.count > k { top.removeLast() }
                        }
                    }
                    best[ci][qi] = top
                }
            }
        }
        return best.map { $0.map { $0.map(\.1) } }
    }

    /// Runs `search(i)` for every query index on `threads` threads (contiguous slices); returns
    /// the ids found per query and the wall time. A short untimed pass warms caches first.
    static func timedSearch(count: Int, threads: Int,
                            _ search: @escaping @Sendable (Int) throws -> [SearchHit]) throws -> ([[Int]], Double) {
        for i in 0..<min(count, 50) { _ = try search(i) }
        let results = ResultBox(count: count)
        let workers = max(1, min(threads, count))
        let start = Date()
        if workers == 1 {
            for i in 0..<count { results.set(i, try search(i).map { Int($0.key.product) ?? -1 }) }
        } else {
            let failure = ResultBox(count: 1)
            DispatchQueue.concurrentPerform(iterations: workers) { w in
                let lo = count * w / workers, hi = count * (w + 1) / workers
                for i in lo..<hi {
                    do { results.set(i, try search(i).map { Int($0.key.product) ?? -1 }) } catch { failure.set(0, [-1]) }
                }
            }
            if failure.values[0] == [-1] { throw ValidationError("a search failed") }
        }
        return (results.values, Date().timeIntervalSince(start))
    }

    static func recall(_ found: [[Int]], _ truth: [[Int]]) -> Double {
        var hits = 0, total = 0
        for (f, t) in zip(found, truth) {
            let expected = Set(t)
            hits += f.filter(expected.contains).count
            total += t.count
        }
        return total == 0 ? 1 : Double(hits) / Double(total)
    }

    /// Resident set size from /proc/self/statm.
    static func residentBytes() -> Int {
        guard let text = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8) else { return 0 }
        let fields = text.split(separator: " ")
        return fields.count > 1 ? (Int(fields[1]) ?? 0) * Int(sysconf(Int32(_SC_PAGESIZE))) : 0
    }
}

/// Per-query results written by several search threads at distinct indices.
private final class ResultBox: @unchecked Sendable {
    private let lock = NSLock()
    private(set) var values: [[Int]]
    init(count: Int) { values = [[Int]](repeating: [], count: count) }
    func set(_ i: Int, _ value: [Int]) {
        lock.lock()
        values[i] = value
        lock.unlock()
    }
}
