import Foundation
import Testing
import VitrineCatalog
import VitrineEngine
import VitrineIndex
import VitrineModels
import VitrineSources

/// Shared pieces of the engine tests: the tiny CLIP fixture, photos, scratch directories and an
/// in-memory dataset reader.
enum EngineFixtures {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures")
    static let tinyModel = root.appendingPathComponent("models/tiny-clip-p32")
    static let images = root.appendingPathComponent("images")

    /// Photos of different formats and sizes, read once.
    static let photos: [Data] = ["baseline.jpg", "gray.png", "lossy.webp", "cmyk.jpg", "orient_3.jpg", "gray_alpha.png", "lossless.webp", "orient_6.png"]
        .map { (try? Data(contentsOf: images.appendingPathComponent($0))) ?? Data() }

    static let encoders: CLIPEncoders = {
        do { return try CLIPEncoders(directory: tinyModel) } catch { fatalError("tiny CLIP fixture: \(error)") }
    }()

    static func modelRecord() throws -> ModelRecord {
        try ModelIdentity.record(specifier: tinyModel.path, directory: tinyModel, precision: "fp32",
                                 dimension: encoders.image!.dimension)
    }

    static func scratch(_ name: String = #function) throws -> DataDirectory {
        let url = FileManager.default.temporaryDirectory
            .appendingPathComponent("vitrine-engine-\(name.filter(\.isLetter))-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return DataDirectory(url)
    }

    /// A product with `images` photos taken from the fixture list, starting at `photo`.
    static func item(_ id: String, name: String? = nil, category: String = "dress", market: String = "cz",
                     photo: Int = 0, images: Int = 1, source: String = "test") -> SourceItem {
        let product = Product(id: id, name: name ?? "product \(id)", description: "a test product",
                              category: category, categoryName: category.capitalized, market: market, source: source)
        let sources = (0..<images).map { i in
            let data = photos[(photo + i) % photos.count]
            return SourceImage(id: String(i), origin: "memory:\(id)/\(i)") { data }
        }
        return SourceItem(product: product, images: sources)
    }

    static func ingest(_ entries: [SourceEntry], into directory: DataDirectory, batchSize: Int = 4,
                       limit: Int? = nil, prune: Bool = false, dryRun: Bool = false, source: String = "test",
                       maxImageBytes: Int? = nil, maxPixels: Int? = nil) async throws -> IngestReport {
        let store = try DataStore.openForWriting(directory, holder: "engine test")
        defer { try? store.close() }
        var options = IngestOptions()
        options.batchSize = batchSize
        options.limit = limit
        options.prune = prune
        options.dryRun = dryRun
        options.maxImageBytes = maxImageBytes ?? options.maxImageBytes
        options.maxPixels = maxPixels ?? options.maxPixels
        let pipeline = try IngestPipeline(store: store, encoder: IngestEncoder(encoders.image!), model: modelRecord(), options: options)
        return try await pipeline.run(ArrayReader(entries, source: source))
    }

    static func searchEngine(_ directory: DataDirectory) throws -> SearchEngine {
        SearchEngine(store: try DataStore.openForReading(directory), text: encoders.text, image: encoders.image)
    }
}

/// A dataset held in memory.
struct ArrayReader: DatasetReader {
    let list: [SourceEntry]
    let source: String
    init(_ list: [SourceEntry], source: String = "test") {
        self.list = list
        self.source = source
    }
    func entries() -> AsyncThrowingStream<SourceEntry, Error> {
        AsyncThrowingStream { continuation in
            for entry in list { continuation.yield(entry) }
            continuation.finish()
        }
    }
}

extension DataStore {
    /// Catalog images and index keys, side by side (they must be equal after any ingest).
    func keySets() throws -> (catalog: Set<VectorKey>, index: Set<VectorKey>) {
        let catalogKeys = Set(try catalog.imageKeys().map { VectorKey(product: $0.product, image: $0.image) })
        return (catalogKeys, Set(try vectors?.keys() ?? []))
    }
}
