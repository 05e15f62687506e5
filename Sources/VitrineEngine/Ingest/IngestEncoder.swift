import VitrineCatalog
import VitrineImage
import VitrineModels

/// The encoder side of ingest: the CLIP vision tower and its preprocessing, split so images are
/// resized and cropped (parallel, 8-bit) ahead of the batched forward pass.
public struct IngestEncoder: Sendable {
    public let encoder: CLIPImageEncoder
    public var dimension: Int { encoder.dimension }

    public init(_ encoder: CLIPImageEncoder) { self.encoder = encoder }

    /// The 8-bit image the tower's preprocessing will normalize (resized and cropped).
    public func prepare(_ image: RGBImage) -> RGBImage { encoder.preprocessor.resizeAndCrop(image) }

    /// Embeddings of prepared images, in order.
    public func embed(_ images: [RGBImage]) -> [[Float]] { encoder.embed(prepared: images) }

    /// Throws unless `record` describes this encoder's embeddings (their dimension).
    func check(_ record: ModelRecord) throws {
        guard record.dimension == dimension else {
            throw EngineError.model(path: record.source, reason: "the record says dimension \(record.dimension), the encoder makes \(dimension)")
        }
    }
}
