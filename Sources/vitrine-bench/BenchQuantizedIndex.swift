import ArgumentParser
import Dispatch
import Foundation
import VitrineCommandLine
import VitrineCore
import VitrineIndex
import VitrineSynthetic
import VitrineTensor

/// `vitrine-bench index --quantized`: the quantized index (inverted lists over one-byte codes,
/// exact re-ranking from the full vectors in the file) on a set that need not fit in memory. The
/// vectors are streamed to a `.npy` file (or read from `--vectors`), never held whole: recall@10
/// against exact search (computed by streaming the file through GEMM), queries/s, p50/p99 latency
/// per thread count and probes, build time and the resident memory the index adds.
extension BenchIndex {
    struct QuantizedRow: Encodable {
        var library = "vitrine"
        var algorithm = "ivf-sq8"
        var n: Int
        var dim: Int
        var lists: Int
        var probes: Int
        var rerank: Int
        var threads: Int
        var recall: Double
        var queriesPerSecond: Double
        var p50Milliseconds: Double
        var p99Milliseconds: Double
        var buildSeconds: Double
        var residentGrowthBytes: Int
        var residentBytes: Int
        var indexMemoryBytes: Int
    }

    func quantizedBenchmark(metric: Metric, threadCounts: [Int]) throws {
        let probeCounts = try CLI.integers(probes, option: "--probes", in: 1...Int.max)
        logMemoryPaths()
        let mixture = GaussianMixture(dimension: dim, clusters: clusters, spread: Float(spread), seed: seed)

        // The vectors, in a file: --vectors, or the mixture streamed to --save-data/vectors.npy
        // (a temporary file, removed at the end, without --save-data).
        let path: String
        var temporary: String?
        if let vectors {
            path = vectors
        } else {
            let directory = saveData ?? FileManager.default.temporaryDirectory.appendingPathComponent("vitrine-bench-\(UUID().uuidString)").path
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            if saveData == nil { temporary = directory }
            path = directory + "/vectors.npy"
            let existing = try? VectorFile(path: path)
            if let existing, existing.count == n, existing.dimension == dim, saveData != nil {
                log("using \(path) (\(n) × \(dim), written earlier with the same options?)")
            } else {
                let start = Date()
                let writer = try VectorFile.Writer(path: path, count: n, dimension: dim)
                try mixture.sample(count: n, stream: 0, chunk: 65_536) { rows, _ in
                    try rows.withUnsafeBufferPointer { try writer.write($0) }
                }
                try writer.finish()
                log("generated \(n) × \(dim) into \(path) in \(String(format: "%.1f", Date().timeIntervalSince(start))) s")
            }
        }
        defer { if let temporary { try? FileManager.default.removeItem(atPath: temporary) } }
        let file = try VectorFile(path: path)

        var queryRows: [Float]
        if let count = Int(queries) {
            guard vectors == nil else { throw ValidationError("with --vectors, --queries must be a .npy path") }
            queryRows = mixture.sample(count: count, stream: 1).vectors
            if let saveData {
                try NPYArray(float32: queryRows, shape: [count, dim]).write(to: URL(fileURLWithPath: saveData + "/queries.npy"))
            }
        } else {
            let a = try NPYArray(contentsOf: URL(fileURLWithPath: queries))
            guard a.shape.count == 2, a.dtype == .float32, a.shape[1] == file.dimension else {
                throw ValidationError("\(queries): expected a float32 matrix with \(file.dimension) columns")
            }
            queryRows = a.floats()
        }
        if metric == .cosine { GaussianMixture.normalizeRows(&queryRows, dimension: file.dimension) }
        let queryCount = queryRows.count / file.dimension
        if dataOnly {
            log("wrote \(file.count) vectors and \(queryCount) queries to \(saveData ?? "")")
            return
        }

        let truth: [[Int]]
        if let saved = try Self.savedTruth(saveData, after: path, queries: queryCount, k: k) {
            truth = saved
            log("using \(saveData ?? "")/truth.npy (written after vectors.npy, \(queryCount) × \(k))")
        } else {
            let truthStart = Date()
            truth = try Self.streamedGroundTruth(file, queries: queryRows, k: k, metric: metric)
            log("exact ground truth for \(queryCount) queries in \(String(format: "%.1f", Date().timeIntervalSince(truthStart))) s")
            if let saveData { try Self.saveTruth(truth, to: saveData, queries: queryCount, k: k) }
        }

        let parameters = QuantizedIndexParameters(lists: lists, probes: probeCounts[0], rerank: rerank)
        let rssBefore = residentSetBytes()
        let buildStart = Date()
        let index = try QuantizedIndex.build(file: file, metric: metric, parameters: parameters, threads: buildThreads)
        let buildSeconds = Date().timeIntervalSince(buildStart)
        let growth = residentSetBytes() - rssBefore
        log("built \(file.count) × \(file.dimension) (\(lists) lists, one byte per dimension) in \(String(format: "%.1f", buildSeconds)) s; "
            + "RSS +\(growth >> 20) MiB (whole process \(residentSetBytes() >> 20) MiB), index accounts \(index.memoryBytes >> 20) MiB")

        var rows: [QuantizedRow] = []
        let queryVectors = (0..<queryCount).map { Array(queryRows[$0 * file.dimension..<($0 + 1) * file.dimension]) }
        for probeCount in probeCounts {
            for t in threadCounts {
                let (found, seconds, latencies) = try Self.timedQuantizedSearch(queryVectors, threads: t) { query in
                    try index.search(query, k: k, probes: probeCount, rerank: rerank).map(\.row)
                }
                let row = QuantizedRow(
                    n: file.count, dim: file.dimension, lists: lists, probes: probeCount, rerank: rerank, threads: t,
                    recall: Self.recall(found, truth), queriesPerSecond: Double(queryCount) / seconds,
                    p50Milliseconds: BenchCluster.percentile(latencies, 0.5) * 1000, p99Milliseconds: BenchCluster.percentile(latencies, 0.99) * 1000,
                    buildSeconds: buildSeconds, residentGrowthBytes: growth, residentBytes: residentSetBytes(), indexMemoryBytes: index.memoryBytes)
                rows.append(row)
                log("probes \(probeCount), re-rank \(rerank), \(t) thread\(t == 1 ? "" : "s"): recall@\(k) \(String(format: "%.4f", row.recall)), "
                    + "\(String(format: "%.0f", row.queriesPerSecond)) q/s, p50 \(String(format: "%.2f", row.p50Milliseconds)) ms, "
                    + "p99 \(String(format: "%.2f", row.p99Milliseconds)) ms, RSS \(row.residentBytes >> 20) MiB")
            }
        }
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            print(String(decoding: try encoder.encode(rows), as: UTF8.self))
        }
    }

    /// Writes the exact answer to `directory/truth.npy`, where the peers score themselves against it.
    static func saveTruth(_ truth: [[Int]], to directory: String, queries: Int, k: Int) throws {
        let ids = truth.flatMap { $0.map { Int32($0) } }
        let bytes = ids.withUnsafeBytes { Array($0) }
        try NPYArray(dtype: .int32, shape: [queries, k], data: bytes).write(to: URL(fileURLWithPath: directory + "/truth.npy"))
    }

    /// The exact answer an earlier run left in `directory/truth.npy`, when it has `queries × k`
    /// rows and is newer than the vectors (the queries are regenerated alike from the seed).
    static func savedTruth(_ directory: String?, after vectors: String, queries: Int, k: Int) throws -> [[Int]]? {
        guard let directory else { return nil }
        let path = directory + "/truth.npy"
        let files = FileManager.default
        guard let truthDate = (try? files.attributesOfItem(atPath: path))?[.modificationDate] as? Date,
              let vectorsDate = (try? files.attributesOfItem(atPath: vectors))?[.modificationDate] as? Date,
              truthDate > vectorsDate else { return nil }
        let saved = try NPYArray(contentsOf: URL(fileURLWithPath: path))
        guard saved.dtype == .int32, saved.shape == [queries, k] else { return nil }
        let ids = saved.data.withUnsafeBytes { raw in (0..<queries * k).map { raw.loadUnaligned(fromByteOffset: $0 * 4, as: Int32.self) } }
        return (0..<queries).map { q in ids[q * k..<(q + 1) * k].map { Int($0) } }
    }

    /// The exact top `k` rows per query, the file streamed once through GEMM in blocks (rows
    /// scaled to unit length under cosine).
    static func streamedGroundTruth(_ file: VectorFile, queries: [Float], k: Int, metric: Metric) throws -> [[Int]] {
        let dimension = file.dimension
        let q = queries.count / dimension
        let block = 16_384
        var best = [[(Float, Int)]](repeating: [], count: q)
        var scores = [Float](repeating: 0, count: q * block)
        try file.forEachChunk(rows: block) { start, chunk in
            let rows = chunk.count / dimension
            var data = Array(chunk)
            var norms = [Float](repeating: 0, count: rows)
            for r in 0..<rows {
                var s: Float = 0
                for d in 0..<dimension { s += data[r * dimension + d] * data[r * dimension + d] }
                norms[r] = s
                if metric == .cosine && s > 0 {
                    let scale = 1 / s.squareRoot()
                    for d in 0..<dimension { data[r * dimension + d] *= scale }
                }
            }
            data.withUnsafeBufferPointer { d in
                queries.withUnsafeBufferPointer { qs in
                    scores.withUnsafeMutableBufferPointer { s in
                        BLAS.gemm(m: q, n: rows, k: dimension, a: qs.baseAddress!, lda: dimension,
                                  b: d.baseAddress!, ldb: dimension, transposeB: true, c: s.baseAddress!, ldc: rows)
                    }
                }
            }
            for qi in 0..<q {
                var top = best[qi]
                for j in 0..<rows {
                    // Larger is better: dot, or 2 q·x − ‖x‖² under L2.
                    let score = metric == .l2 ? 2 * scores[qi * rows + j] - norms[j] : scores[qi * rows + j]
                    keepBest(&top, score, start + j, k: k)
                }
                best[qi] = top
            }
        }
        return best.map { $0.map(\.1) }
    }

    /// Every query once on `threads` threads (contiguous slices), after an untimed warm-up pass
    /// over the first 50: the rows found, the wall time and each query's latency in seconds.
    static func timedQuantizedSearch(_ queries: [[Float]], threads: Int,
                                     _ search: @escaping @Sendable ([Float]) throws -> [Int]) throws -> ([[Int]], Double, [Double]) {
        for query in queries.prefix(50) { _ = try search(query) }
        final class Results: @unchecked Sendable {
            let lock = NSLock()
            var found: [[Int]]
            var latencies: [Double]
            var failure: Error?
            init(_ n: Int) { found = Array(repeating: [], count: n); latencies = Array(repeating: 0, count: n) }
        }
        let results = Results(queries.count)
        let workers = max(1, min(threads, queries.count))
        let start = Date()
        // Threads of their own, not concurrentPerform's pool (as wide as the cores): four
        // threads on two cores is four queries in flight, and their latency shows it.
        let group = DispatchGroup()
        for w in 0..<workers {
            group.enter()
            let thread = Thread {
                defer { group.leave() }
                for i in (queries.count * w / workers)..<(queries.count * (w + 1) / workers) {
                    let begin = DispatchTime.now().uptimeNanoseconds
                    do {
                        let found = try search(queries[i])
                        let seconds = Double(DispatchTime.now().uptimeNanoseconds - begin) / 1e9
                        results.lock.withLock { results.found[i] = found; results.latencies[i] = seconds }
                    } catch {
                        results.lock.withLock { results.failure = error }
                    }
                }
            }
            thread.start()
        }
        group.wait()
        let seconds = Date().timeIntervalSince(start)
        if let failure = results.failure { throw failure }
        return (results.found, seconds, results.latencies)
    }
}
