import VitrineCore

/// Vectors placed around given ones (a catalog's products around the embeddings of their
/// descriptions), where ``GaussianMixture`` draws its own centres.
public enum SyntheticVectors {
    /// `centre` moved by `distance` in a uniformly random direction, then normalized: a
    /// neighbour at a chosen distance, whatever the dimension.
    public static func jitter(_ centre: [Float], by distance: Double, using random: inout SplitMix64) -> [Float] {
        let direction = centre.map { _ in Float(random.nextGaussian()) }
        let norm = direction.reduce(Float(0)) { $0 + $1 * $1 }.squareRoot()
        var out = centre
        for i in out.indices { out[i] += Float(distance) * direction[i] / norm }
        let length = out.reduce(Float(0)) { $0 + $1 * $1 }.squareRoot()
        for i in out.indices { out[i] /= length }
        return out
    }
}
