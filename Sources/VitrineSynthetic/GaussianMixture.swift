import VitrineCore

/// Embedding-like test and benchmark data: a normalized Gaussian mixture, clustered as real
/// embeddings are. Deterministic for a seed, on every machine.
///
/// Centres are `clusters` draws of N(0, I), normalized; a point is its centre plus noise of norm
/// about `spread` (N(0, I) scaled by `spread / √dimension`), normalized. `stream` separates sets
/// drawn from the same mixture (vectors 0, queries 1): the centres depend on `seed` alone.
public struct GaussianMixture: Sendable {
    public var dimension: Int
    public var clusters: Int
    public var spread: Float
    public var seed: UInt64

    public init(dimension: Int, clusters: Int, spread: Float, seed: UInt64) {
        self.dimension = dimension
        self.clusters = max(1, clusters)
        self.spread = spread
        self.seed = seed
    }

    /// `count` points as one row-major `[count × dimension]` array, and each point's cluster.
    public func sample(count: Int, stream: UInt64) -> (vectors: [Float], labels: [Int]) {
        var vectors: [Float] = [], labels: [Int] = []
        vectors.reserveCapacity(count * dimension)
        labels.reserveCapacity(count)
        sample(count: count, stream: stream, chunk: 65_536) { v, l in
            vectors += v
            labels += l
        }
        return (vectors, labels)
    }

    /// The same points as ``sample(count:stream:)``, handed to `body` in order, at most `chunk`
    /// rows at a time: for sets too large to hold in memory.
    public func sample(count: Int, stream: UInt64, chunk: Int, _ body: ([Float], [Int]) throws -> Void) rethrows {
        var centreRandom = SplitMix64(seed: seed)
        var centres = [Float](repeating: 0, count: clusters * dimension)
        for i in centres.indices { centres[i] = Float(centreRandom.nextGaussian()) }
        Self.normalizeRows(&centres, dimension: dimension)
        var random = SplitMix64(seed: seed &* 0x9E37_79B9 &+ stream &+ 1)
        let noiseScale = spread / Float(dimension).squareRoot()
        let step = max(1, chunk)
        for start in stride(from: 0, to: count, by: step) {
            let rows = min(step, count - start)
            var out = [Float](repeating: 0, count: rows * dimension)
            var labels = [Int](repeating: 0, count: rows)
            for i in 0..<rows {
                let c = Int(random.next() % UInt64(clusters))
                labels[i] = c
                for j in 0..<dimension {
                    out[i * dimension + j] = centres[c * dimension + j] + noiseScale * Float(random.nextGaussian())
                }
            }
            Self.normalizeRows(&out, dimension: dimension)
            try body(out, labels)
        }
    }

    /// `count` points as separate vectors, and each point's cluster.
    public func sampleRows(count: Int, stream: UInt64) -> (vectors: [[Float]], labels: [Int]) {
        let (flat, labels) = sample(count: count, stream: stream)
        return ((0..<count).map { Array(flat[$0 * dimension..<($0 + 1) * dimension]) }, labels)
    }

    /// Scales each row of a row-major matrix to unit length (zero rows stay zero).
    public static func normalizeRows(_ x: inout [Float], dimension: Int) {
        for r in 0..<x.count / dimension {
            var s: Float = 0
            for j in 0..<dimension { s += x[r * dimension + j] * x[r * dimension + j] }
            let scale = s > 0 ? 1 / s.squareRoot() : 0
            for j in 0..<dimension { x[r * dimension + j] *= scale }
        }
    }
}
