import ArgumentParser
import Foundation
import VitrineCatalog
import VitrineCommandLine
import VitrineCore
import VitrineEngine
import VitrineImage
import VitrineIndex
import VitrineModels
import VitrineSynthetic
import VitrineTensor

/// `vitrine-bench catalog`: a large synthetic catalog for load benchmarks of `vitrine serve`, made
/// in minutes rather than the hours that embedding as many real photos would take.
///
/// Vectors lie in the model's own embedding space: a few thousand generated product descriptions
/// ("navy striped linen shirt") go through the text tower, and each product is one of them plus
/// noise, so the index sees clusters of near neighbours as a real catalog gives it, not uniform
/// noise. Images come from a small pool of real photos, stored once and shared. The model record
/// is the model's own, so `vitrine serve --data DIR` (and `search`) work on it unchanged; what a
/// query costs (tokenize → text tower → HNSW → catalog → JSON) does not depend on where the stored
/// vectors came from, only on their number and how they cluster.
struct BenchCatalog: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "catalog",
        abstract: "Write a synthetic catalog (products, vectors, images, model record) for load benchmarks.",
        discussion: """
        Products get varied names, categories and markets; each vector is the text-tower embedding \
        of one of --centres generated descriptions plus noise (--noise, as a fraction of the mean \
        distance between two centres), normalized. Images are a pool of photos (--images) reused \
        across products. The directory must be new or empty of products.
        """
    )

    @OptionGroup var model: ModelOption

    @Option(help: "Products to write.")
    var count = 100_000

    @Option(name: .customLong("data"), help: "The data directory to create.")
    var data: String

    @Option(help: "Distinct descriptions embedded as cluster centres.")
    var centres = 2_000

    @Option(help: "Distance of a product from its centre, as a fraction of the mean distance between two centres.")
    var noise = 0.35

    @Option(help: "Photos (files or directories) stored once and reused by the products (default: Tests/Fixtures/images).")
    var images: [String] = []

    @Option(help: "Seed of the generator (the same seed gives the same catalog).")
    var seed: UInt64 = 1

    @Option(help: "Threads for the matrix products.")
    var threads = 2

    @Flag(help: "Print JSON for scripts.")
    var json = false

    func validate() throws {
        guard count >= 1 else { throw ValidationError("--count must be at least 1") }
        guard centres >= 1 else { throw ValidationError("--centres must be at least 1") }
        guard noise >= 0 else { throw ValidationError("--noise must not be negative") }
    }

    struct Report: Codable {
        var data: String
        var model: String
        var products: Int
        var centres: Int
        var noise: Double
        var photos: Int
        var seconds: Double
        var embedSeconds: Double
        var indexSeconds: Double
        /// Mean cosine similarity between two different centres, and of a product to its centre.
        var centreCosine: Double
        var productToCentreCosine: Double
    }

    /// The steps, in order (one random stream through all of them, so a seed gives the same
    /// catalog): centres → photo pool → products and vectors → report.
    func run() async throws {
        BLAS.threads = threads
        let started = Date()
        let directoryURL = URL(fileURLWithPath: (data as NSString).expandingTildeInPath).standardizedFileURL
        let modelDirectory = try await CLI.run { try await model.resolve() }
        let encoders = try CLI.run { try CLIPEncoders(directory: modelDirectory, precision: model.precision) }
        guard let text = encoders.text else {
            CLI.printError("the model has no text tower: the synthetic vectors are made with it")
            throw ExitCode.failure
        }
        var random = SplitMix64(seed: seed)
        let centres = try CLI.run { try embedCentres(text, &random) }
        let photos = try photoFiles()
        guard !photos.isEmpty else {
            CLI.printError("no photos found (give --images FILE|DIR)")
            throw ExitCode.failure
        }

        let store = try CLI.run { try DataStore.openForWriting(DataDirectory(directoryURL), holder: "vitrine-bench catalog") }
        defer { try? store.close() }
        guard try store.catalog.counts().products == 0 else {
            CLI.printError("\(directoryURL.path) already holds products; give a new directory")
            throw ExitCode.failure
        }
        let record = try ModelIdentity.record(specifier: model.spec, directory: modelDirectory,
                                              precision: model.precision.rawValue, dimension: text.dimension)
        try store.catalog.setModelRecord(record)
        let pool = try storePhotos(photos, in: store)
        let written = try writeProducts(store, centres: centres, pool: pool, &random)

        let report = Report(
            data: directoryURL.path, model: record.specifier, products: count, centres: self.centres, noise: noise,
            photos: pool.count, seconds: Date().timeIntervalSince(started), embedSeconds: centres.seconds,
            indexSeconds: written.seconds, centreCosine: centres.meanCosine, productToCentreCosine: written.meanCosineToCentre)
        try show(report)
    }

    /// The mixture's centres: generated descriptions through the text tower, in batches.
    struct Centres {
        var descriptions: [String]
        var vectors: [[Float]]
        /// Mean distance between two different centres (products are jittered by a fraction of it).
        var spread: Double
        var meanCosine: Double
        var seconds: Double
    }

    func embedCentres(_ text: CLIPTextEncoder, _ random: inout SplitMix64) throws -> Centres {
        log("embedding \(centres) descriptions with the text tower")
        let start = Date()
        let descriptions = (0..<centres).map { _ in SyntheticProducts.description(&random) }
        var vectors: [[Float]] = []
        for first in stride(from: 0, to: descriptions.count, by: 64) {
            vectors += try text.embed(texts: Array(descriptions[first..<min(first + 64, descriptions.count)]))
        }
        let seconds = Date().timeIntervalSince(start)
        let spread = Self.meanDistance(vectors, &random)
        // Unit vectors: |a − b|² = 2 − 2 cos.
        return Centres(descriptions: descriptions, vectors: vectors, spread: spread, meanCosine: 1 - spread.squared / 2, seconds: seconds)
    }

    /// The photos products share, stored once each (files that do not decode are left out), as
    /// each product's image "0".
    func storePhotos(_ files: [URL], in store: DataStore) throws -> [ProductImage] {
        let decoder = ImageDecoder()
        var pool: [ProductImage] = []
        for file in files {
            let bytes = try Data(contentsOf: file)
            guard let decoded = try? decoder.decode(bytes) else { continue }
            let ext = ["jpeg": "jpg"][file.pathExtension.lowercased()] ?? file.pathExtension.lowercased()
            guard BlobKey.extensions.contains(ext) else { continue }
            pool.append(ProductImage(id: "0", key: try store.blobs.put(bytes, ext: ext), width: decoded.width, height: decoded.height))
        }
        return pool
    }

    /// Products and their vectors (a centre jittered by `--noise` of the spread), in batches as
    /// ingest commits them: index first, then the catalog with the index's sequence.
    func writeProducts(_ store: DataStore, centres: Centres, pool: [ProductImage],
                       _ random: inout SplitMix64) throws -> (seconds: Double, meanCosineToCentre: Double) {
        let vectors = try store.vectorStore(dimension: centres.vectors[0].count)
        (vectors as? EmbeddedVectorStore)?.reserveCapacity(count)
        log("writing \(count) products (\(pool.count) photos shared)")
        let start = Date()
        var closeness = 0.0
        let batchSize = 5_000
        for first in stride(from: 0, to: count, by: batchSize) {
            var products: [Product] = []
            var records: [VectorRecord] = []
            for i in first..<min(first + batchSize, count) {
                let c = Int(random.next() % UInt64(self.centres))
                let product = SyntheticProducts.product(index: i, description: centres.descriptions[c], image: pool[i % pool.count], &random)
                let vector = SyntheticVectors.jitter(centres.vectors[c], by: noise * centres.spread, using: &random)
                closeness += Double(zip(vector, centres.vectors[c]).reduce(Float(0)) { $0 + $1.0 * $1.1 })
                records.append(VectorRecord(key: VectorKey(product: product.id, image: "0"), vector: vector,
                                            attributes: ["category": product.category ?? "", "market": product.market ?? ""]))
                products.append(product)
            }
            let sequence = try vectors.upsert(records)
            try store.catalog.upsert(products, fingerprints: Dictionary(uniqueKeysWithValues: products.map { ($0.id, "synthetic") }),
                                     vectorSequence: sequence)
            if !json { log("  \(first + products.count) / \(count)") }
        }
        try vectors.flush()
        return (Date().timeIntervalSince(start), closeness / Double(count))
    }

    func show(_ report: Report) throws {
        if json {
            try CLI.printJSON(report)
        } else {
            print("""
            \(count) products in \(report.data) (\(String(format: "%.0f", report.seconds)) s: embedding \(String(format: "%.0f", report.embedSeconds)) s, \
            catalog + index \(String(format: "%.0f", report.indexSeconds)) s)
            centres: \(centres), mean cosine between two \(String(format: "%.3f", report.centreCosine)); \
            product to its centre \(String(format: "%.3f", report.productToCentreCosine))
            """)
        }
    }

    private func log(_ message: String) {
        FileHandle.standardError.write(Data((message + "\n").utf8))
    }

    private func photoFiles() throws -> [URL] {
        var paths = images
        if paths.isEmpty { paths = ["Tests/Fixtures/images"] }
        var files: [URL] = []
        for path in paths {
            let url = URL(fileURLWithPath: path)
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory) else {
                throw ValidationError("\(path) does not exist")
            }
            if isDirectory.boolValue {
                let names = try FileManager.default.contentsOfDirectory(atPath: url.path).sorted()
                files += names.filter { ["jpg", "jpeg", "png", "webp"].contains(($0 as NSString).pathExtension.lowercased()) }
                    .map { url.appendingPathComponent($0) }
            } else {
                files.append(url)
            }
        }
        return files
    }

    /// Mean Euclidean distance between two different centres (sampled), the scale the noise uses.
    static func meanDistance(_ vectors: [[Float]], _ random: inout SplitMix64) -> Double {
        guard vectors.count > 1 else { return 1 }
        var total = 0.0
        let samples = 2_000
        for _ in 0..<samples {
            let a = Int(random.next() % UInt64(vectors.count))
            var b = Int(random.next() % UInt64(vectors.count - 1))
            if b >= a { b += 1 }
            total += Double(zip(vectors[a], vectors[b]).reduce(Float(0)) { $0 + ($1.0 - $1.1) * ($1.0 - $1.1) }).squareRoot()
        }
        return total / Double(samples)
    }
}

extension Double {
    fileprivate var squared: Double { self * self }
}
