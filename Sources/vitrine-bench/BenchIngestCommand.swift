import ArgumentParser
import Foundation
import VitrineCatalog
import VitrineCommandLine
import VitrineEngine
import VitrineIndex
import VitrineImage
import VitrineModels
import VitrineSources
import VitrineSynthetic
import VitrineTensor

/// `vitrine-bench ingest`: end-to-end ingest (files → decode → preprocess → encode → index +
/// catalog) against the encoder alone on the same images, and the memory ingest holds beyond the
/// index's own bytes.
struct BenchIngest: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ingest",
        abstract: "Ingest throughput against encoder-only throughput, and memory beyond the index.",
        discussion: """
        Ingests SOURCE (any format `vitrine ingest` reads) or --synthetic N generated images into a \
        fresh data directory, after timing the encoder alone on the source's first images at the \
        same batch size. Prints images/s of both, their ratio, peak resident memory, the index's \
        bytes and the difference. Run once per size to compare memory across sizes.
        """
    )

    @Argument(help: "The source to ingest (omit with --synthetic).")
    var source: String?

    @Option(help: "Generate this many distinct 28×28 grayscale PNG products instead of reading a source.")
    var synthetic: Int?

    @OptionGroup var model: ModelOption

    @Option(help: "Ingest at most this many products.")
    var limit: Int?

    @Option(name: .customLong("batch-size"), help: "Images per encoder pass.")
    var batchSize = 64

    @Option(help: "Seconds to time the encoder alone (half before the ingest, half after).")
    var seconds = 10.0

    @Option(help: "Data directory to fill (default: a new temporary one, removed afterwards).")
    var data: String?

    @Flag(help: "Print JSON for scripts.")
    var json = false

    func validate() throws {
        guard (source == nil) != (synthetic == nil) else { throw ValidationError("give a SOURCE or --synthetic N") }
        guard (1...1000).contains(batchSize) else { throw ValidationError("--batch-size must be between 1 and 1000") }
        if let synthetic, synthetic < 1 { throw ValidationError("--synthetic must be at least 1") }
    }

    struct Report: Codable {
        var source: String
        var model: String
        var precision: String
        var batchSize: Int
        var products: Int
        var imagesEmbedded: Int
        var encoderImagesPerSecond: Double
        var ingestImagesPerSecond: Double
        var ratio: Double
        var ingestSeconds: Double
        var peakResidentBytes: Int
        var indexBytes: Int
        var peakMinusIndexBytes: Int
        /// The largest (resident − index bytes) sampled after each batch during the ingest: what
        /// the pipeline itself holds, the number that must stay flat as the catalog grows.
        var ingestMinusIndexBytes: Int
        /// Samples of (products, resident − index bytes) at every tenth of the run.
        var samples: [[Int]]
    }

    /// The steps: the source → the encoder → its rate alone on the source's own images → ingest
    /// into a fresh data directory (progress and memory sampled) → the encoder's rate again → report.
    func run() async throws {
        try await CLI.run {
            let reader = try makeReader()
            let directory = try await model.resolve()
            let encoders = try CLIPEncoders(directory: directory, precision: model.precision)
            guard let image = encoders.image else {
                throw EngineError.model(path: directory.path, reason: "the model has no image tower")
            }
            let encoder = IngestEncoder(image)

            // Encoder alone: one batch of the source's own images, decoded and prepared once.
            let sample = try await Self.sampleImages(reader, count: batchSize).map(encoder.prepare)
            guard !sample.isEmpty else { throw EngineError.invalidQuery("the source has no decodable image") }
            _ = encoder.embed(Array(sample.prefix(1)))  // warm-up
            let before = Self.encoderRate(encoder, sample, seconds: seconds / 2)
            // End to end into a fresh data directory.
            let dataURL = data.map { URL(fileURLWithPath: $0) }
                ?? FileManager.default.temporaryDirectory.appendingPathComponent("vitrine-bench-ingest-\(UUID().uuidString.prefix(8))")
            defer { if data == nil { try? FileManager.default.removeItem(at: dataURL) } }
            let store = try DataStore.openForWriting(DataDirectory(dataURL), holder: "vitrine-bench ingest")
            defer { try? store.close() }
            let record = try ModelIdentity.record(specifier: model.spec, directory: directory,
                                                  precision: model.precision.rawValue, dimension: image.dimension)
            var options = IngestOptions()
            options.batchSize = batchSize
            options.limit = limit
            let pipeline = try IngestPipeline(store: store, encoder: encoder, model: record, options: options)
            let view = IngestProgressView(total: limit ?? synthetic)
            let sampler = MemorySampler(store: store, total: limit ?? synthetic ?? reader.expectedCount())
            let result = try await pipeline.run(reader) { counts in
                view.update(counts)
                sampler.sample(counts.read)
            }
            view.finish(result.counts)
            // Timed again after, and the better of the two kept: the ratio is never flattered by a
            // machine that was busier during the encoder-only run.
            let encoderRate = max(before, Self.encoderRate(encoder, sample, seconds: seconds / 2))
            log(String(format: "encoder alone: %.1f images/s (batch %d)", encoderRate, sample.count))
            let indexBytes = (store.vectors as? EmbeddedVectorStore)?.memoryBytes ?? 0
            let peak = BenchEmbed.peakResidentBytes()
            try show(Report(
                source: reader.source, model: model.spec, precision: model.precision.rawValue, batchSize: batchSize,
                products: result.counts.ingested + result.counts.updated, imagesEmbedded: result.counts.imagesEmbedded,
                encoderImagesPerSecond: encoderRate, ingestImagesPerSecond: result.imagesPerSecond,
                ratio: result.imagesPerSecond / encoderRate, ingestSeconds: result.seconds,
                peakResidentBytes: peak, indexBytes: indexBytes, peakMinusIndexBytes: peak - indexBytes,
                ingestMinusIndexBytes: sampler.largest, samples: sampler.samples))
        }
    }

    /// `--synthetic N` products, or the source the path's format says.
    func makeReader() throws -> any DatasetReader {
        if let synthetic { return SyntheticReader(count: synthetic) }
        let url = URL(fileURLWithPath: (source! as NSString).expandingTildeInPath).standardizedFileURL
        return try DatasetFormat.detect(url).makeReader(url: url)
    }

    func show(_ report: Report) throws {
        if json {
            try CLI.printJSON(report, snakeCaseKeys: true)
            return
        }
        print(String(format: "encoder alone     %8.1f images/s (batch %d)", report.encoderImagesPerSecond, report.batchSize))
        print(String(format: "ingest end to end %8.1f images/s (%d images in %.1f s)", report.ingestImagesPerSecond, report.imagesEmbedded, report.ingestSeconds))
        print(String(format: "ratio             %8.2f", report.ratio))
        print("peak resident     \(report.peakResidentBytes / 1_000_000) MB; index \(report.indexBytes / 1_000_000) MB; peak − index \(report.peakMinusIndexBytes / 1_000_000) MB")
        print("during ingest     resident − index at most \(report.ingestMinusIndexBytes / 1_000_000) MB")
    }

    private func log(_ text: String) {
        FileHandle.standardError.write(Data((text + "\n").utf8))
    }

    /// Images per second of the encoder alone on `sample` (already prepared), over `seconds`.
    static func encoderRate(_ encoder: IngestEncoder, _ sample: [RGBImage], seconds: Double) -> Double {
        var embedded = 0
        let clock = ContinuousClock()
        let start = clock.now
        repeat {
            _ = encoder.embed(sample)
            embedded += sample.count
        } while (clock.now - start) < .seconds(seconds)
        return Double(embedded) / (clock.now - start).seconds
    }

    /// The first `count` decodable images of the source.
    static func sampleImages(_ reader: any DatasetReader, count: Int) async throws -> [RGBImage] {
        var images: [RGBImage] = []
        let decoder = ImageDecoder()
        for try await entry in reader.entries() {
            guard case .item(let item) = entry else { continue }
            for image in item.images {
                if let bytes = try? await image.load(), let decoded = try? decoder.decode(bytes) { images.append(decoded) }
                if images.count == count { return images }
            }
        }
        return images
    }
}

/// Resident memory minus the index's bytes, sampled after every batch.
final class MemorySampler: @unchecked Sendable {
    private let store: DataStore
    private let total: Int?
    private let lock = NSLock()
    private(set) var largest = 0
    private(set) var samples: [[Int]] = []
    private var nextTenth = 1

    init(store: DataStore, total: Int?) {
        self.store = store
        self.total = total
    }

    func sample(_ read: Int) {
        let value = residentSetBytes() - ((store.vectors as? EmbeddedVectorStore)?.memoryBytes ?? 0)
        lock.withLock {
            largest = max(largest, value)
            if let total, total > 0, read * 10 >= nextTenth * total {
                samples.append([read, value])
                nextTenth = read * 10 / total + 1
            }
        }
    }
}

extension Duration {
    var seconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}
