import CVitrineIndex

/// How vector distance is measured.
public enum Metric: String, Sendable, Codable, CaseIterable {
    /// Cosine distance `1 − cos(a, b)`. Vectors are normalized when stored and queried, so it is
    /// computed as an inner product of unit vectors.
    case cosine
    /// `1 − a·b` on the vectors as given (maximum inner product search).
    case innerProduct = "ip"
    /// Squared Euclidean distance.
    case l2

    /// The kernel selector of `vx_distances` (0: 1 − dot, 1: squared L2).
    var kernel: Int32 { self == .l2 ? 1 : 0 }

    var code: UInt8 {
        switch self {
        case .cosine: 0
        case .innerProduct: 1
        case .l2: 2
        }
    }

    init?(code: UInt8) {
        switch code {
        case 0: self = .cosine
        case 1: self = .innerProduct
        case 2: self = .l2
        default: return nil
        }
    }
}

/// Distance kernels over raw float rows. The arithmetic lives in the C target (AVX2 + FMA when
/// the CPU has them, with prefetching of the next row); this is the Swift face of it.
public enum Distance {
    /// Distance between two rows of `dimension` floats.
    @inline(__always)
    static func between(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, dimension: Int, metric: Metric) -> Float {
        metric == .l2 ? vx_l2sq(a, b, dimension) : 1 - vx_dot(a, b, dimension)
    }

    /// Distances from `query` to the rows `ids` of `base`, into `out`.
    @inline(__always)
    static func gather(
        _ query: UnsafePointer<Float>, base: UnsafePointer<Float>, dimension: Int, metric: Metric,
        ids: UnsafePointer<UInt32>, count: Int, into out: UnsafeMutablePointer<Float>
    ) {
        vx_distances(query, base, dimension, metric.kernel, ids, count, out)
    }

    /// Whether the AVX2/FMA kernels are in use on this CPU.
    static var usesAVX2: Bool { vx_uses_avx2() != 0 }

    /// The distance kernels in use, for reports: "avx2" or "portable" (`VITRINE_ISA=portable`, or a CPU without AVX2).
    public static var kernels: String { usesAVX2 ? "avx2" : "portable" }

    /// Checks a vector for the store: right length, finite, non-zero norm under cosine.
    static func validate(_ vector: [Float], dimension: Int, metric: Metric, key: VectorKey?) throws {
        guard vector.count == dimension else {
            throw VectorIndexError.dimensionMismatch(expected: dimension, actual: vector.count, key: key)
        }
        var squares: Float = 0
        for x in vector {
            guard x.isFinite else { throw VectorIndexError.invalidVector(key: key, reason: "contains NaN or infinity") }
            squares += x * x
        }
        if metric == .cosine && !(squares > 0 && squares.isFinite) {
            throw VectorIndexError.invalidVector(key: key, reason: "zero or overflowing norm cannot be normalized for cosine")
        }
    }

    /// Scales a validated row to unit length in place (cosine stores and queries unit vectors).
    @inline(__always)
    static func normalize(_ row: UnsafeMutablePointer<Float>, dimension: Int) {
        var squares: Float = 0
        for i in 0..<dimension { squares += row[i] * row[i] }
        let scale = 1 / squares.squareRoot()
        for i in 0..<dimension { row[i] *= scale }
    }

    /// A validated copy of a query, normalized for cosine.
    static func prepare(_ vector: [Float], dimension: Int, metric: Metric, key: VectorKey?) throws -> [Float] {
        try validate(vector, dimension: dimension, metric: metric, key: key)
        guard metric == .cosine else { return vector }
        var copy = vector
        copy.withUnsafeMutableBufferPointer { normalize($0.baseAddress!, dimension: dimension) }
        return copy
    }
}
