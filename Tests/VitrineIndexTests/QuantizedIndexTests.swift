import CVitrineIndex
import Foundation
import Testing
@testable import VitrineIndex
import VitrineCore
import VitrineSynthetic

/// The quantized index (inverted lists over one-byte codes, exact re-ranking) and its kernels.
struct QuantizedIndexTests {
    /// Distances from `query` to every row, in double precision.
    static func exactDistances(_ data: [Float], _ query: [Float], dimension: Int, metric: Metric) -> [Double] {
        let n = data.count / dimension
        let qNorm = query.reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot()
        let distances: [Double] = (0..<n).map { i in
            var dot = 0.0, squared = 0.0, l2 = 0.0
            for d in 0..<dimension {
                let x = Double(data[i * dimension + d]), q = Double(query[d])
                dot += x * q
                squared += x * x
                l2 += (x - q) * (x - q)
            }
            switch metric {
            case .cosine: return 1 - dot / (squared.squareRoot() * qNorm)
            case .innerProduct: return 1 - dot
            case .l2: return l2
            }
        }
        return distances
    }

    static func randomFloats(_ count: Int, seed: UInt64) -> [Float] {
        var random = SplitMix64(seed: seed)
        return (0..<count).map { _ in Float(random.nextGaussian()) }
    }

    @Test("byte × byte scores are exact on odd lengths, at the extremes, on every path")
    func integerKernel() {
        var random = SplitMix64(seed: 21)
        for dim in [1, 31, 32, 33, 64, 95, 512, 515] {
            for extreme in [false, true] {
                let count = 3
                let query = (0..<dim).map { _ in extreme ? Int8(random.next() % 2 == 0 ? 63 : -63) : Int8(Int(random.next() % 127) - 63) }
                let codes = (0..<dim * count).map { _ in extreme ? UInt8(255) : UInt8(random.next() % 256) }
                let reference = (0..<count).map { j in (0..<dim).reduce(Int32(0)) { $0 + Int32(query[$1]) * Int32(codes[j * dim + $1]) } }
                for avx2: Int32 in [0, 1] {
                    var out = [Int32](repeating: -1, count: count)
                    vx_scan_u8_s8_on(avx2, query, codes, dim, count, &out)
                    #expect(out == reference, "dim \(dim) extreme \(extreme) avx2 \(avx2)")
                }
            }
        }
    }

    @Test("blocked dot products equal a scalar reference on odd shapes, on every path")
    func blockKernel() {
        for (na, nb, dim) in [(1, 1, 1), (1, 5, 3), (3, 37, 17), (5, 33, 512), (2, 4, 8), (7, 70, 9)] {
            let a = Self.randomFloats(na * dim, seed: 1), b = Self.randomFloats(nb * dim, seed: 2)
            for avx2: Int32 in [0, 1] {
                var out = [Float](repeating: .nan, count: na * nb)
                vx_dot_block_on(avx2, a, na, b, nb, dim, &out)
                for i in 0..<na {
                    for j in 0..<nb {
                        var reference = 0.0
                        for d in 0..<dim { reference += Double(a[i * dim + d]) * Double(b[j * dim + d]) }
                        #expect(abs(Double(out[i * nb + j]) - reference) <= 1e-4 * Double(dim).squareRoot(), "\(na)×\(nb)×\(dim) (\(i), \(j)) avx2 \(avx2)")
                    }
                }
            }
        }
    }

    /// 20,000 clustered vectors: recall@10 against exact search at the default probes, and exact
    /// answers (rows and distances) when every list is scanned and every candidate re-ranked.
    @Test("recall against exact search; exact when every list is scanned", arguments: [Metric.cosine, .innerProduct, .l2])
    func recall(metric: Metric) throws {
        let dimension = 64, count = 20_000
        let mixture = GaussianMixture(dimension: dimension, clusters: 50, spread: 0.6, seed: 11)
        var data = mixture.sample(count: count, stream: 0).vectors
        // Rows of varied length: cosine must not rely on the rows being unit length.
        if metric != .innerProduct { for i in 0..<count { for d in 0..<dimension { data[i * dimension + d] *= 1 + Float(i % 5) } } }
        let queries = mixture.sampleRows(count: 40, stream: 1).vectors
        let parameters = QuantizedIndexParameters(lists: 64, probes: 8, rerank: 50)
        let index = try QuantizedIndex.build(vectors: data, dimension: dimension, metric: metric, parameters: parameters, threads: 2)
        #expect(index.count == count)
        #expect(index.offsets.last == count)
        #expect(Set(index.rows).count == count)

        var hits = 0
        for query in queries {
            let distances = Self.exactDistances(data, query, dimension: dimension, metric: metric)
            let truth = Array((0..<count).sorted { distances[$0] < distances[$1] }.prefix(10))
            let found = try index.search(query, k: 10)
            #expect(found.count == 10)
            #expect(zip(found, found.dropFirst()).allSatisfy { $0.distance <= $1.distance })
            hits += found.filter { truth.contains($0.row) }.count

            let everything = try index.search(query, k: 10, probes: 64, rerank: count)
            // Every list and every candidate: the exact answer (up to float rounding among ties),
            // with exact distances.
            let tenth = distances[truth[9]]
            #expect(Set(everything.map(\.row)).count == 10)
            #expect(everything.allSatisfy { distances[$0.row] <= tenth + 1e-5 }, "\(metric): every list and candidate gives the exact answer")
            #expect(everything.allSatisfy { abs(Double($0.distance) - distances[$0.row]) <= 1e-4 * max(1, abs(distances[$0.row])) })
        }
        let recall = Double(hits) / Double(10 * queries.count)
        print("quantized index, \(metric), 20k × 64, 64 lists, 8 probes, re-rank 50: recall@10 \(recall)")
        #expect(recall >= 0.95)
    }

    @Test("built from a .npy file: the same index as from memory; full vectors read from the file")
    func fromFile() throws {
        let dimension = 33, count = 3_000
        let data = GaussianMixture(dimension: dimension, clusters: 10, spread: 0.5, seed: 5).sample(count: count, stream: 0).vectors
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("vitrine-quantized-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let path = folder.appendingPathComponent("vectors.npy").path
        let writer = try VectorFile.Writer(path: path, count: count, dimension: dimension)
        try data.withUnsafeBufferPointer { all in
            for start in stride(from: 0, to: count, by: 700) {
                let rows = min(700, count - start)
                try writer.write(UnsafeBufferPointer(rebasing: all[start * dimension..<(start + rows) * dimension]))
            }
        }
        try writer.finish()
        let file = try VectorFile(path: path)
        #expect(file.count == count && file.dimension == dimension)
        #expect(file.dataOffset % 64 == 0)
        var row = [Float](repeating: 0, count: dimension)
        try file.read(1234..<1235, into: &row)
        #expect(row == Array(data[1234 * dimension..<1235 * dimension]))

        let parameters = QuantizedIndexParameters(lists: 16, probes: 4, rerank: 30)
        let fromFile = try QuantizedIndex.build(file: file, metric: .cosine, parameters: parameters, threads: 2)
        let fromMemory = try QuantizedIndex.build(vectors: data, dimension: dimension, metric: .cosine, parameters: parameters, threads: 1)
        #expect(fromFile.rows == fromMemory.rows)
        for q in 0..<20 {
            let query = Array(data[(q * 97) * dimension..<(q * 97 + 1) * dimension])
            let a = try fromFile.search(query, k: 5), b = try fromMemory.search(query, k: 5)
            #expect(a.map(\.row) == b.map(\.row))
            #expect(a.first?.row == q * 97)
            #expect(zip(a, b).allSatisfy { abs($0.distance - $1.distance) <= 1e-6 })
        }

        // The file cut short under a built index: a search that needs a missing row fails with
        // an error naming the file (a memory map would have killed the process with SIGBUS).
        #expect(truncate(path, off_t(file.dataOffset + 10 * dimension * 4)) == 0)
        let query = Array(data[(count - 1) * dimension..<count * dimension])
        #expect(throws: VectorIndexError.io(file: path, operation: "read", errno: EIO)) {
            try fromFile.search(query, k: 5, probes: 16, rerank: 3_000)
        }
    }

    @Test("bad files and bad input are refused with the reason")
    func refusals() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("vitrine-quantized-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let text = folder.appendingPathComponent("text.npy").path
        try Data("hello".utf8).write(to: URL(fileURLWithPath: text))
        #expect(throws: VectorIndexError.corrupted(file: text, reason: "not a .npy file")) { try VectorFile(path: text) }
        let missing = folder.appendingPathComponent("missing.npy").path
        #expect(throws: VectorIndexError.notFound(file: missing)) { try VectorFile(path: missing) }
        // A header that promises more rows than the file holds.
        let short = folder.appendingPathComponent("short.npy").path
        let writer = try VectorFile.Writer(path: short, count: 10, dimension: 4)
        try [Float](repeating: 1, count: 8).withUnsafeBufferPointer { try writer.write($0) }
        #expect(throws: VectorIndexError.self) { try writer.finish() }
        #expect(throws: VectorIndexError.self) { try VectorFile(path: short) }

        var data = Self.randomFloats(200 * 8, seed: 4)
        let index = try QuantizedIndex.build(vectors: data, dimension: 8, metric: .cosine, parameters: QuantizedIndexParameters(lists: 4))
        #expect(throws: VectorIndexError.self) { try index.search([1, 2, 3], k: 3) }
        #expect(throws: VectorIndexError.self) { try index.search([Float](repeating: 1, count: 8), k: 0) }
        #expect(throws: VectorIndexError.self) { try index.search([Float](repeating: .nan, count: 8), k: 3) }
        data[17] = .infinity
        #expect(throws: VectorIndexError.self) { try QuantizedIndex.build(vectors: data, dimension: 8, metric: .cosine) }
    }
}

/// The allocator of the arrays graph search reads at random.
struct LargeBufferTests {
    @Test("large buffers start on a 2 MiB boundary (huge-page candidates), small ones on 64 bytes; every byte usable")
    func alignment() {
        for (count, boundary) in [(5 << 20 | 3, 2 << 20), (2 << 20, 2 << 20), (1000, 64), (0, 64)] {
            let buffer = LargeBuffer.allocate(UInt8.self, count: count)
            defer { LargeBuffer.free(buffer) }
            #expect(Int(bitPattern: buffer) % boundary == 0, "\(count) bytes")
            for i in stride(from: 0, to: count, by: 4093) { buffer[i] = UInt8(i & 0xff) }
            if count > 0 { buffer[count - 1] = 7 }
            #expect(stride(from: 0, to: count - 1, by: 4093).allSatisfy { buffer[$0] == UInt8($0 & 0xff) })
        }
    }
}
