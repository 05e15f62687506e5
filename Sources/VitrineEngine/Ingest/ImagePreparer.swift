import Dispatch
import VitrineCatalog
import VitrineImage
import VitrineSources

/// The decode stage: each image decoded (format sniffed, pixel limit checked on the header),
/// its bytes stored in the blob store, and resized and cropped to the 8-bit input the encoder
/// normalizes, on `threads` threads outside the cooperative pool.
struct ImagePreparer: Sendable {
    /// The stored image records of a product and their prepared pixels, in the same order.
    struct Prepared: Sendable {
        var images: [ProductImage]
        var pixels: [RGBImage]
    }

    let blobs: any BlobStore
    let encoder: IngestEncoder
    let decoder: ImageDecoder
    let threads: Int
    /// The CPU the run's stages share (see ``IngestPipeline``): one slot per product prepared.
    let cores: DispatchSemaphore

    /// Prepares the images of each item. An image that cannot be decoded fails its item; a store
    /// that cannot be written (disk full, read-only) fails the run, since every later item would
    /// fail the same way.
    func prepare(_ work: [(item: SourceItem, images: [HashedData])]) async throws -> [Result<Prepared, IngestFailure>] {
        try await BlockingWork.run { [self] in
            try BlockingWork.map(count: work.count, threads: threads) { i in
                cores.wait()
                defer { cores.signal() }
                return try prepare(work[i].item, images: work[i].images)
            }
        }
    }

    private func prepare(_ item: SourceItem, images: [HashedData]) throws -> Result<Prepared, IngestFailure> {
        var prepared = Prepared(images: [], pixels: [])
        for (image, content) in zip(item.images, images) {
            let raw = [UInt8](content.data)
            let format: ImageFormat
            let decoded: RGBImage
            do {
                format = try decoder.probe(raw).format
                decoded = try decoder.decode(raw)
            } catch {
                return .failure(IngestFailure(id: item.product.id, location: image.origin, reason: String(describing: error)))
            }
            let key = try blobs.put(content, ext: Self.blobExtension(format))
            prepared.images.append(ProductImage(id: image.id, key: key, width: decoded.width, height: decoded.height))
            prepared.pixels.append(encoder.prepare(decoded))
        }
        return .success(prepared)
    }

    static func blobExtension(_ format: ImageFormat) -> String {
        switch format {
        case .jpeg: "jpg"
        case .png: "png"
        case .webp: "webp"
        }
    }
}
