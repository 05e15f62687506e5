import Dispatch
import VitrineCatalog
import VitrineImage
import VitrineSources

/// The decode stage: each image decoded (format sniffed, pixel limit checked on the header) and
/// resized and cropped to the 8-bit input the encoder normalizes, on `threads` threads outside the
/// cooperative pool; then its bytes stored in the blob store.
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

    /// Prepares the images of each item: decoded under the run's CPU budget, then the photos
    /// stored outside it, several at a time (a remote store's round trips wait on the network, not
    /// on a core). An image that cannot be decoded fails its item; a store that cannot be written
    /// (disk full, read-only, unreachable) fails the run, since every later item would fail the
    /// same way.
    func prepare(_ work: [(item: SourceItem, images: [HashedData])]) async throws -> [Result<Prepared, IngestFailure>] {
        try await BlockingWork.run { [self] in
            let decoded = try BlockingWork.map(count: work.count, threads: threads) { i in
                cores.wait()
                defer { cores.signal() }
                return decode(work[i].item, images: work[i].images)
            }
            let uploads = decoded.flatMap { result -> [(content: HashedData, ext: String)] in
                if case .success(let item) = result { return item.photos }
                return []
            }
            let keys = try BlockingWork.map(count: uploads.count, threads: min(max(threads, Self.storeThreads), max(uploads.count, 1))) { j in
                try blobs.put(uploads[j].content, ext: uploads[j].ext)
            }
            var next = 0
            return decoded.map { result in
                result.map { item in
                    var prepared = Prepared(images: [], pixels: item.pixels)
                    for image in item.images {
                        prepared.images.append(ProductImage(id: image.id, key: keys[next], width: image.width, height: image.height))
                        next += 1
                    }
                    return prepared
                }
            }
        }
    }

    /// Photos stored at once (a file store is quick either way; S3 gains from overlapping).
    static let storeThreads = 8

    /// An item's images decoded and prepared, with the photos to store and their extensions.
    private struct Decoded {
        var images: [(id: String, width: Int, height: Int)] = []
        var pixels: [RGBImage] = []
        var photos: [(content: HashedData, ext: String)] = []
    }

    private func decode(_ item: SourceItem, images: [HashedData]) -> Result<Decoded, IngestFailure> {
        var decoded = Decoded()
        for (image, content) in zip(item.images, images) {
            let raw = [UInt8](content.data)
            let format: ImageFormat
            let pixels: RGBImage
            do {
                format = try decoder.probe(raw).format
                pixels = try decoder.decode(raw)
            } catch {
                return .failure(IngestFailure(id: item.product.id, location: image.origin, reason: String(describing: error)))
            }
            decoded.images.append((image.id, pixels.width, pixels.height))
            decoded.pixels.append(encoder.prepare(pixels))
            decoded.photos.append((content, Self.blobExtension(format)))
        }
        return .success(decoded)
    }

    static func blobExtension(_ format: ImageFormat) -> String {
        switch format {
        case .jpeg: "jpg"
        case .png: "png"
        case .webp: "webp"
        }
    }
}
