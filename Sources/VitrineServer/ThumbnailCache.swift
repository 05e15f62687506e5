import Foundation
import Logging
import VitrineCatalog
import VitrineImage

/// Thumbnails of stored images, made once: decoded upright (EXIF orientation applied), resized to
/// the requested width keeping the aspect ratio (Pillow's bicubic), encoded as PNG and kept in
/// `DIR/thumbnails/<sha256>-w<width>.png`, and stored back beside the photos when their store
/// keeps derived files (S3), so other replicas fetch it instead of making it again. Blobs are
/// immutable, so a thumbnail never goes stale.
final class ThumbnailCache: Sendable {
    /// Widths a client may ask for.
    static let widths = 16...1024

    let directory: URL
    let blobs: any BlobStore
    let decoder: ImageDecoder
    let pool: ConcurrencyLimiter
    let metrics: ServerMetrics
    let timeout: Duration
    let logger: Logger

    init(dataDirectory: DataDirectory, blobs: any BlobStore, configuration: ServerConfiguration, metrics: ServerMetrics, logger: Logger) {
        directory = dataDirectory.url.appendingPathComponent("thumbnails", isDirectory: true)
        self.blobs = blobs
        decoder = ImageDecoder(maxPixels: configuration.maxPixels)
        // Decoding a large photo takes memory: bounded like image search, with a longer line
        // (a results page asks for a few dozen thumbnails at once).
        pool = ConcurrencyLimiter(name: "thumbnail", slots: configuration.imageEncodeSlots, queueLimit: 256) { metrics.rejected(pool: "thumbnail") }
        self.metrics = metrics
        timeout = configuration.requestTimeout
        self.logger = logger
    }

    func url(for key: BlobKey, width: Int) -> URL {
        directory.appendingPathComponent("\(key.sha256)-w\(width).png")
    }

    /// The PNG bytes of `key`'s thumbnail `width` pixels wide (at most the image's own width).
    func thumbnail(_ key: BlobKey, width: Int) async throws -> Data {
        let file = url(for: key, width: width)
        if let cached = try? Data(contentsOf: file) { return cached }
        try await pool.acquire()
        defer { Task { await pool.release() } }
        // Another request may have made it while this one waited.
        if let cached = try? Data(contentsOf: file) { return cached }
        let (blobs, decoder, logger) = (blobs, decoder, logger)
        let name = file.lastPathComponent
        let (png, made) = try await Deadline.run(timeout) { () throws -> (Data, Bool) in
            if let stored = try? blobs.derived(named: name) { return (stored, false) }
            let image = try decoder.decode(try blobs.get(key))
            let w = min(width, image.width)
            let h = max(1, Int((Double(image.height) * Double(w) / Double(image.width)).rounded()))
            guard let small = image.resized(width: w, height: h) else {
                throw APIError(.unprocessableContent, code: "invalid_image", "image \(key) is \(image.width)×\(image.height): cannot make a thumbnail")
            }
            let png = try PNGEncoder().encode(pixels: small.pixels, width: w, height: h, layout: .rgb)
            do {
                try blobs.storeDerived(png, named: name)
            } catch {
                logger.warning("cannot store a thumbnail back", metadata: ["vitrine.blob": .string(name), "error.message": .string(String(describing: error))])
            }
            return (png, true)
        }
        if made { metrics.thumbnailGenerated() }
        store(png, at: file)
        return png
    }

    /// Writes aside and renames, so a reader never sees half a file. A read-only data directory
    /// only costs the cache: the thumbnail is still served.
    private func store(_ data: Data, at file: URL) {
        do {
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            let temporary = directory.appendingPathComponent(".\(UUID().uuidString).tmp")
            try data.write(to: temporary)
            if rename(temporary.path, file.path) != 0 {
                try? FileManager.default.removeItem(at: temporary)
            }
        } catch {
            logger.warning("cannot cache a thumbnail", metadata: ["file.path": .string(file.path), "error.message": .string(String(describing: error))])
        }
    }
}
