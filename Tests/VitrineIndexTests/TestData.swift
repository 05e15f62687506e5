import Foundation
@testable import VitrineIndex
import VitrineSynthetic

/// Deterministic test data: a normalized Gaussian mixture like real embeddings (clustered).
enum TestData {
    /// `count` vectors and `queries` more from the same mixture (the benchmarks' generator).
    static func mixture(count: Int, dimension: Int, clusters: Int = 20, spread: Float = 0.6, seed: UInt64 = 7,
                        queries: Int = 0) -> (vectors: [[Float]], labels: [Int], queries: [[Float]], queryLabels: [Int]) {
        let mixture = GaussianMixture(dimension: dimension, clusters: clusters, spread: spread, seed: seed)
        let data = mixture.sampleRows(count: count, stream: 0)
        let asked = mixture.sampleRows(count: queries, stream: 1)
        return (data.vectors, data.labels, asked.vectors, asked.labels)
    }

    /// Whether two vectors agree to float rounding (normalization order differs by an ulp).
    static func close(_ a: [Float]?, _ b: [Float]) -> Bool {
        guard let a, a.count == b.count else { return false }
        return zip(a, b).allSatisfy { abs($0 - $1) <= 1e-6 }
    }

    static func normalized(_ v: [Float]) -> [Float] {
        let norm = v.reduce(0) { $0 + $1 * $1 }.squareRoot()
        return v.map { $0 / norm }
    }

    static func key(_ i: Int) -> VectorKey { VectorKey(product: "p\(i)", image: "0") }

    static func records(_ vectors: [[Float]], labels: [Int] = [], offset: Int = 0) -> [VectorRecord] {
        vectors.enumerated().map { i, v in
            var attributes: [String: String] = [:]
            if !labels.isEmpty {
                attributes["cluster"] = String(labels[i])
                attributes["bucket"] = String((offset + i) * 7919 % 100)
            }
            return VectorRecord(key: key(offset + i), vector: v, attributes: attributes)
        }
    }

    /// Exact k nearest keys by brute force in double precision.
    static func bruteForce(_ query: [Float], _ vectors: [[Float]], k: Int, metric: Metric,
                           where allows: (Int) -> Bool = { _ in true }) -> [VectorKey] {
        var scored: [(Double, Int)] = []
        let q = metric == .cosine ? normalized(query) : query
        for (i, v) in vectors.enumerated() where allows(i) {
            let x = metric == .cosine ? normalized(v) : v
            var d = 0.0
            for j in q.indices {
                switch metric {
                case .l2: d += Double(q[j] - x[j]) * Double(q[j] - x[j])
                case .cosine, .innerProduct: d -= Double(q[j]) * Double(x[j])
                }
            }
            scored.append((d, i))
        }
        scored.sort { $0.0 < $1.0 }
        return scored.prefix(k).map { key($0.1) }
    }

    static func recall(_ found: [[VectorKey]], _ truth: [[VectorKey]]) -> Double {
        var hits = 0, total = 0
        for (f, t) in zip(found, truth) {
            hits += Set(f).intersection(t).count
            total += t.count
        }
        return Double(hits) / Double(max(total, 1))
    }

    static func temporaryDirectory() -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("vitrine-index-\(UUID().uuidString)")
        try? FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    static func hnsw(dimension: Int, metric: Metric = .cosine, ef: Int = 64, efConstruction: Int = 100, threads: Int = 2) -> VectorStoreConfiguration {
        VectorStoreConfiguration(dimension: dimension, metric: metric,
                                 algorithm: .hnsw(HNSWParameters(M: 12, efConstruction: efConstruction, efSearch: ef)),
                                 buildThreads: threads, syncWrites: false)
    }
}
