import ArgumentParser
import Dispatch
import Foundation
import VitrineCommandLine
import VitrineCore
import VitrineIndex
import VitrineSynthetic
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
    @Flag(help: "Benchmark the quantized index (inverted lists over one-byte codes, exact re-ranking of the best from the vectors in the file) instead of HNSW; the vectors are streamed to a file, never held in memory.")
    var quantized = false
    @Option(help: "Inverted lists (--quantized).") var lists = 1024
    @Option(help: "Lists scanned per query, comma-separated (--quantized).") var probes = "8,16,32"
    @Option(help: "Candidates re-ranked exactly (--quantized).") var rerank = 100

    /// Usage errors (exit 2 by ArgumentParser's conventions) before anything runs.
    func validate() throws {
        guard Metric(rawValue: metric) != nil else { throw ValidationError("--metric must be cosine, ip or l2") }
        _ = try CLI.integers(ef, option: "--ef", in: 1...Int.max)
        _ = try CLI.integers(threads, option: "--threads", in: 1...Int.max)
        guard k > 0, m >= 2, efConstruction > 0, n > 0, dim > 0, buildThreads > 0 else {
            throw ValidationError("--n, --dim, --k, --ef-construction and --build-threads must be positive, --m at least 2")
        }
        if dataOnly && saveData == nil { throw ValidationError("--data-only needs --save-data DIR") }
        if quantized {
            _ = try CLI.integers(probes, option: "--probes", in: 1...Int.max)
            guard lists > 0, rerank > 0 else { throw ValidationError("--lists and --rerank must be positive") }
            guard !filters, !exact, persist == nil, open == nil else {
                throw ValidationError("--quantized measures unfiltered search on a fresh build: no --filters, --exact, --persist or --open")
            }
        }
    }

    func run() throws {
        try CLI.run { try benchmark() }
    }

    func log(_ message: String) {
        if !json { print(message) } else { FileHandle.standardError.write(Data("\(message)\n".utf8)) }
    }

    /// The steps, in order: data → filters → ground truth → build (or open) → searches
    /// (unfiltered, filtered, exact) → persistence; each adds its rows to the report.
    private func benchmark() throws {
        guard let metric = Metric(rawValue: metric) else { throw ValidationError("--metric must be cosine, ip or l2") }
        let efs = try CLI.integers(ef, option: "--ef", in: 1...Int.max)
        let threadCounts = try CLI.integers(threads, option: "--threads", in: 1...Int.max)

        if quantized { return try quantizedBenchmark(metric: metric, threadCounts: threadCounts) }
        logMemoryPaths()
        let data = try loadData(metric: metric)
        if let saveData { try data.save(to: saveData) }
        if dataOnly {
            log("wrote \(data.count) vectors and \(data.queryCount) queries to \(saveData ?? "")")
            return
        }
        let filterCases = filters && vectors == nil ? Self.filterCases(data) : []

        let truthStart = Date()
        let truth = Self.groundTruth(data: data.vectors, queries: data.queries, dimension: data.dimension, k: k, metric: metric,
                                     cases: [{ _, _ in true }] + filterCases.map(\.allows))
        log("exact ground truth in \(String(format: "%.1f", Date().timeIntervalSince(truthStart))) s")

        let (store, build) = try buildStore(data, metric: metric, efSearch: efs.first ?? 64, attributes: !filterCases.isEmpty)
        var rows: [IndexBenchRow] = []
        rows += try unfilteredRuns(store, build, data, truth: truth[0], efs: efs, threadCounts: threadCounts)
        rows += try filteredRuns(store, build, data, filterCases, truth: Array(truth.dropFirst()))
        if exact { rows += try exactRuns(build, data, metric: metric, truth: truth[0], threadCounts: threadCounts) }
        if let persist { rows.append(try persistRun(store, build, data, to: persist)) }

        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            print(String(decoding: try encoder.encode(rows), as: UTF8.self))
        }
    }

    // MARK: Steps

    /// The vectors and queries: `--vectors`/`--queries` files, or the synthetic mixture.
    private func loadData(metric: Metric) throws -> IndexBenchData {
        var data = IndexBenchData(vectors: [], queries: [], dimension: dim, labels: [], queryLabels: [])
        let mixture = GaussianMixture(dimension: dim, clusters: clusters, spread: Float(spread), seed: seed)
        if let vectors {
            let a = try NPYArray(contentsOf: URL(fileURLWithPath: vectors))
            guard a.shape.count == 2, a.dtype == .float32 else { throw ValidationError("\(vectors): expected a 2-D float32 matrix") }
            data.vectors = a.floats()
            data.dimension = a.shape[1]
        } else {
            let start = Date()
            (data.vectors, data.labels) = mixture.sample(count: n, stream: 0)
            log("generated \(n) × \(dim) in \(String(format: "%.1f", Date().timeIntervalSince(start))) s")
        }
        if let count = Int(queries) {
            guard vectors == nil else { throw ValidationError("with --vectors, --queries must be a .npy path") }
            (data.queries, data.queryLabels) = mixture.sample(count: count, stream: 1)
        } else {
            let a = try NPYArray(contentsOf: URL(fileURLWithPath: queries))
            guard a.shape.count == 2, a.dtype == .float32, a.shape[1] == data.dimension else {
                throw ValidationError("\(queries): expected a float32 matrix with \(data.dimension) columns")
            }
            data.queries = a.floats()
        }
        if metric == .cosine {
            GaussianMixture.normalizeRows(&data.vectors, dimension: data.dimension)
            GaussianMixture.normalizeRows(&data.queries, dimension: data.dimension)
        }
        return data
    }

    /// Filters over the synthetic labels: a bucket per item (uncorrelated with the query) allowing
    /// 1%, 10% and 50%, and the cluster (correlated: each query is filtered to its own cluster).
    static func filterCases(_ data: IndexBenchData) -> [IndexFilterCase] {
        var cases: [IndexFilterCase] = []
        for percent in [1, 10, 50] {
            let values = Set((0..<percent).map(String.init))
            cases.append(IndexFilterCase(
                name: "\(percent)%", allows: { item, _ in IndexBenchData.bucket(item) < percent },
                filter: { _ in VectorFilter(["bucket": values]) }))
        }
        let labels = data.labels, queryLabels = data.queryLabels
        cases.append(IndexFilterCase(
            name: "cluster", allows: { item, query in labels[item] == queryLabels[query] },
            filter: { query in VectorFilter(["cluster": [String(queryLabels[query])]]) }))
        return cases
    }

    /// The index over the data (with `bucket` and `cluster` attributes when filters are measured),
    /// or the one `--open` names, and what the build cost.
    private func buildStore(_ data: IndexBenchData, metric: Metric, efSearch: Int, attributes: Bool) throws -> (EmbeddedVectorStore, IndexBuildFacts) {
        let parameters = HNSWParameters(M: m, efConstruction: efConstruction, efSearch: efSearch)
        let rssBefore = residentSetBytes()
        let configuration = VectorStoreConfiguration(
            dimension: data.dimension, metric: metric, algorithm: .hnsw(parameters), buildThreads: buildThreads, syncWrites: false,
            filterExactFraction: filterExactBelow, filterTwoHopFraction: filterTwoHopBelow)
        let store: EmbeddedVectorStore
        let buildStart = Date()
        if let open {
            store = try EmbeddedVectorStore(directory: URL(fileURLWithPath: open), configuration: configuration)
            log("opened \(open) in \(String(format: "%.2f", Date().timeIntervalSince(buildStart))) s")
        } else {
            store = try EmbeddedVectorStore(configuration: configuration)
            store.reserveCapacity(data.count)
            store.applyChunk = 10_000
            for start in stride(from: 0, to: data.count, by: Self.upsertBatch) {
                _ = try store.upsert(data.records(start..<min(start + Self.upsertBatch, data.count), attributes: attributes))
            }
        }
        let build = IndexBuildFacts(
            n: data.count, dim: data.dimension, buildSeconds: Date().timeIntervalSince(buildStart),
            memoryBytes: residentSetBytes() - rssBefore, indexMemoryBytes: store.memoryBytes, m: m,
            efConstruction: efConstruction, buildThreads: buildThreads, k: k, metric: metric.rawValue)
        log("\(open == nil ? "built" : "opened") \(data.count) × \(data.dimension) (M \(m), efConstruction \(efConstruction), \(buildThreads) threads) in \(String(format: "%.1f", build.buildSeconds)) s; RSS +\(build.memoryBytes >> 20) MiB, index accounts \(store.memoryBytes >> 20) MiB")
        return (store, build)
    }

    private static let upsertBatch = 2_000

    /// Recall and queries/s per efSearch and thread count, without filters.
    private func unfilteredRuns(_ store: EmbeddedVectorStore, _ build: IndexBuildFacts, _ data: IndexBenchData,
                                truth: [[Int]], efs: [Int], threadCounts: [Int]) throws -> [IndexBenchRow] {
        let queryVectors = data.queryVectors
        var rows: [IndexBenchRow] = []
        for efSearch in efs {
            for t in threadCounts {
                let (results, seconds) = try Self.timedSearch(count: queryVectors.count, threads: t) { [k] i in
                    try store.search(queryVectors[i], k: k, filter: nil, ef: efSearch)
                }
                let row = IndexBenchRow.search(build, threads: t, efSearch: efSearch, recall: Self.recall(results, truth),
                                               queriesPerSecond: Double(queryVectors.count) / seconds)
                rows.append(row)
                log(String(format: "ef %4d  threads %d  recall@%d %.4f  %8.0f queries/s", efSearch, t, k, row.recall ?? 0, row.queriesPerSecond ?? 0))
            }
        }
        return rows
    }

    /// One thread per filter case at `--filter-ef`: recall against the filtered exact answer, the
    /// route the store chose, and any result that breaks its filter.
    private func filteredRuns(_ store: EmbeddedVectorStore, _ build: IndexBuildFacts, _ data: IndexBenchData,
                              _ cases: [IndexFilterCase], truth: [[[Int]]]) throws -> [IndexBenchRow] {
        let queryVectors = data.queryVectors
        var rows: [IndexBenchRow] = []
        for (filterCase, truth) in zip(cases, truth) {
            let filters = (0..<queryVectors.count).map(filterCase.filter)
            let (results, seconds) = try Self.timedSearch(count: queryVectors.count, threads: 1) { [k, filterEf] i in
                try store.search(queryVectors[i], k: k, filter: filters[i], ef: filterEf)
            }
            var violations = 0
            for (qi, hits) in results.enumerated() {
                for id in hits where !filterCase.allows(id, qi) { violations += 1 }
            }
            let sampled = min(data.count, 20_000)
            let allowed = (0..<sampled).filter { filterCase.allows($0, 0) }.count
            var row = IndexBenchRow.search(build, threads: 1, efSearch: filterEf, recall: Self.recall(results, truth),
                                           queriesPerSecond: Double(queryVectors.count) / seconds)
            row.filter = filterCase.name
            row.allowedFraction = Double(allowed) / Double(sampled)
            row.violations = violations
            row.route = store.searchRoute(for: filters[0])
            rows.append(row)
            log(String(format: "filter %-7@ ef %d  recall@%d %.4f  %8.0f queries/s  route %@  violations %d",
                       filterCase.name, filterEf, k, row.recall ?? 0, row.queriesPerSecond ?? 0, row.route ?? "", violations))
        }
        return rows
    }

    /// Brute-force search over the same vectors, on up to 200 queries.
    private func exactRuns(_ build: IndexBuildFacts, _ data: IndexBenchData, metric: Metric, truth: [[Int]],
                           threadCounts: [Int]) throws -> [IndexBenchRow] {
        let exactStore = try EmbeddedVectorStore(configuration: VectorStoreConfiguration(
            dimension: data.dimension, metric: metric, algorithm: .exact, syncWrites: false))
        exactStore.reserveCapacity(data.count)
        for start in stride(from: 0, to: data.count, by: Self.upsertBatch) {
            _ = try exactStore.upsert(data.records(start..<min(start + Self.upsertBatch, data.count), attributes: false))
        }
        let sample = Array(data.queryVectors.prefix(max(1, min(data.queryCount, 200))))
        var rows: [IndexBenchRow] = []
        for t in threadCounts {
            let (results, seconds) = try Self.timedSearch(count: sample.count, threads: t) { [k] i in
                try exactStore.search(sample[i], k: k, filter: nil)
            }
            var row = IndexBenchRow.search(build, threads: t, efSearch: nil, recall: Self.recall(results, Array(truth.prefix(sample.count))),
                                           queriesPerSecond: Double(sample.count) / seconds)
            row.algorithm = "exact"
            rows.append(row)
            log(String(format: "exact    threads %d  recall@%d %.4f  %8.0f queries/s", t, k, row.recall ?? 0, row.queriesPerSecond ?? 0))
        }
        return rows
    }

    /// Writes the index as a snapshot, reopens it, and checks the reopened index answers the same.
    private func persistRun(_ store: EmbeddedVectorStore, _ build: IndexBuildFacts, _ data: IndexBenchData,
                            to persist: String) throws -> IndexBenchRow {
        let url = URL(fileURLWithPath: persist)
        try? FileManager.default.removeItem(at: url)
        let snapshotStart = Date()
        try store.writeSnapshot(to: url)
        let snapshotSeconds = Date().timeIntervalSince(snapshotStart)
        let loadStart = Date()
        let reopened = try EmbeddedVectorStore(directory: url, configuration: store.configuration)
        let loadSeconds = Date().timeIntervalSince(loadStart)
        let reopenedCount = try reopened.count()
        let same = try data.queryVectors.prefix(20).allSatisfy {
            try reopened.search($0, k: k, filter: nil) == store.search($0, k: k, filter: nil)
        }
        try reopened.close()
        log(String(format: "persist: snapshot written in %.2f s, reopened in %.2f s (%d vectors, same results: %@)",
                   snapshotSeconds, loadSeconds, reopenedCount, same ? "yes" : "NO"))
        return .persistence(n: build.n, dim: build.dim, snapshotSeconds: snapshotSeconds, loadSeconds: loadSeconds, sameResults: same)
    }

    // MARK: Helpers

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
                        keepBest(&top, score, start + j, k: k)
                    }
                    best[ci][qi] = top
                }
            }
        }
        return best.map { $0.map { $0.map(\.1) } }
    }

    /// Says which distance kernels run and whether the index's buffers ask for huge pages.
    func logMemoryPaths() {
        log("distance kernels: \(Distance.kernels); huge pages: \(LargeBuffer.hugePages ? "asked for" : "off (VITRINE_HUGE_PAGES)")")
    }

    /// Inserts (score, id) into `top`, the best `k` so far by descending score, if it belongs there.
    @inline(__always)
    static func keepBest(_ top: inout [(Float, Int)], _ score: Float, _ id: Int, k: Int) {
        guard top.count < k || score > top[top.count - 1].0 else { return }
        var at = top.count
        while at > 0 && top[at - 1].0 < score { at -= 1 }
        top.insert((score, id), at: at)
        if top.count > k { top.removeLast() }
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
