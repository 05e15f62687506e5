import VitrineModels

/// A text tower that stands in for the CLIP model's own in clip search (and hybrid's clip
/// retriever): a student trained into the CLIP model's space, such as
/// sentence-transformers/clip-ViT-B-32-multilingual-v1 for ViT-B/32, so queries in other languages
/// find the same photos. Photos are not re-encoded; the CLIP model still encodes them.
public struct QueryModel: Sendable {
    /// How it was named (hub id or directory).
    public let specifier: String
    public let encoder: any TextEncoder

    public init(specifier: String, encoder: any TextEncoder) {
        self.specifier = specifier
        self.encoder = encoder
    }

    /// Checks that its embeddings fit an index of `dimension`.
    /// - Throws: ``EngineError/model(path:reason:)`` naming the model otherwise.
    public func check(dimension: Int) throws {
        guard encoder.dimension == dimension else {
            throw EngineError.model(path: specifier, reason: "the query model makes \(encoder.dimension)-dimensional embeddings, the photos' index holds \(dimension): it must be trained into the space of the model that encoded the photos")
        }
    }
}
