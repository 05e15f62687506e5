import ArgumentParser
import Foundation
import VitrineCommandLine
import VitrineImage
import VitrineModels
import VitrineSynthetic
import VitrineTensor

#if canImport(Glibc)
import Glibc
#endif

/// `vitrine-bench embed`: embedding throughput and latency of a CLIP checkpoint on this machine,
/// with the machine's own sgemm rate as the yardstick (the roofline).
struct BenchEmbed: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "embed",
        abstract: "Measure image embeddings/s per batch size, text query latency, stage times and memory."
    )

    @OptionGroup var model: ModelOption

    @Option(help: "Comma-separated image batch sizes.")
    var batch: String = "1,8,32,64"

    @Option(help: "Seconds of measurement per configuration.")
    var seconds: Double = 5

    @Option(help: "Image files or directories to use (default: Tests/Fixtures/images if present, else synthetic images).")
    var images: [String] = []

    @Option(help: "Threads for the matrix products.")
    var threads: Int = 2

    @Flag(help: "Print JSON for scripts.")
    var json = false

    /// The `--batch` sizes: checked before anything loads, used by `run`.
    private func batchSizes() throws -> [Int] { try CLI.integers(batch, option: "--batch", in: 1...1000) }

    func validate() throws { _ = try batchSizes() }

    func run() async throws {
        let batches = try batchSizes()
        BLAS.threads = threads
        let directory = try await CLI.run { try await model.resolve() }
        let encoders = try CLI.run { try CLIPEncoders(directory: directory, precision: model.precision) }
        var report = BenchReport(model: directory.path, precision: model.precision.rawValue, threads: threads)
        report.kernels = InstructionSet.summary
        log(report.kernels)
        report.sgemmGFLOPS = Self.sgemmProbe()
        log("sgemm 768³ on \(threads) threads: \(String(format: "%.1f", report.sgemmGFLOPS)) GFLOP/s")
        report.fmaPeakGFLOPS = InstructionSet.fmaPeakGFLOPS(threads: threads)
        if let peak = report.fmaPeakGFLOPS {
            log("256-bit FMA peak on \(threads) threads: \(String(format: "%.1f", peak)) GFLOP/s")
        }
        if model.precision == .int8 {
            report.int8WeightBits = Linear.int8WeightLimit == 127 ? 8 : 7
            log("int8: batches on \(Linear.int8BatchKernel), \(report.int8WeightBits!)-bit weights")
        }

        var benchImages: [RGBImage] = []
        if let encoder = encoders.image {
            let flops = Self.visionFLOPs(encoder.tower.config)
            report.imageGFLOP = flops / 1e9
            report.rooflineImagesPerSecond = report.sgemmGFLOPS * 1e9 / flops
            report.fmaCeilingImagesPerSecond = report.fmaPeakGFLOPS.map { $0 * 1e9 / flops }
            if let ceiling = report.fmaCeilingImagesPerSecond {
                log("ceiling: \(String(format: "%.2f", ceiling)) images/s if every one of \(String(format: "%.2f", flops / 1e9)) GFLOP per image ran at the FMA peak")
            }
            let (files, decoded, decodeSeconds) = try loadImages()
            benchImages = decoded
            report.decodeMillisecondsPerImage = files.isEmpty ? nil : 1000 * decodeSeconds / Double(files.count)
            // Preprocessing alone, one core.
            var preprocessed: [[Float]] = []
            let start = Date()
            for image in decoded { preprocessed.append(encoder.preprocessor.pixelValues(image)) }
            report.preprocessMillisecondsPerImage = 1000 * Date().timeIntervalSince(start) / Double(decoded.count)

            for size in batches {
                var pixels: [Float] = []
                for i in 0..<size { pixels += preprocessed[i % preprocessed.count] }
                _ = pixels.withUnsafeBufferPointer { encoder.tower.embed(pixels: $0, count: size) }  // warm up
                var done = 0
                let t0 = Date()
                repeat {
                    _ = pixels.withUnsafeBufferPointer { encoder.tower.embed(pixels: $0, count: size) }
                    done += size
                } while Date().timeIntervalSince(t0) < seconds
                let rate = Double(done) / Date().timeIntervalSince(t0)
                report.images.append(.init(batch: size, imagesPerSecond: rate, rooflineFraction: rate / report.rooflineImagesPerSecond!))
                log("batch \(size): \(String(format: "%.2f", rate)) images/s (\(String(format: "%.0f", 100 * rate / report.rooflineImagesPerSecond!))% of roofline)")
            }
        }

        if let encoder = encoders.text {
            let queries = Self.queries
            for q in queries { _ = try encoder.embed(texts: [q]) }
            var latencies: [Double] = []
            let t0 = Date()
            var i = 0
            repeat {
                let s = Date()
                _ = try encoder.embed(texts: [queries[i % queries.count]])
                latencies.append(Date().timeIntervalSince(s) * 1000)
                i += 1
            } while Date().timeIntervalSince(t0) < seconds
            latencies.sort()
            report.textP50Milliseconds = latencies[latencies.count / 2]
            report.textP99Milliseconds = latencies[min(latencies.count - 1, latencies.count * 99 / 100)]
            report.textQueries = latencies.count
            log("text query (≤16 tokens): p50 \(String(format: "%.2f", report.textP50Milliseconds!)) ms, p99 \(String(format: "%.2f", report.textP99Milliseconds!)) ms")
        }
        report.peakResidentBytes = Self.peakResidentBytes()
        log("peak resident memory: \(report.peakResidentBytes / 1_000_000) MB")

        if model.precision != .fp32 {
            // How far the reduced precision moves the embeddings, against fp32 on the same inputs
            // (loaded after the memory reading above).
            let reference = try CLI.run { try CLIPEncoders(directory: directory, precision: .fp32) }
            if let image = encoders.image, let fp32 = reference.image {
                report.imageCosineToFP32 = Self.cosines(image.embed(images: benchImages), fp32.embed(images: benchImages))
                log("image cosine to fp32: min \(String(format: "%.6f", report.imageCosineToFP32!.min)), mean \(String(format: "%.6f", report.imageCosineToFP32!.mean))")
            }
            if let text = encoders.text, let fp32 = reference.text {
                report.textCosineToFP32 = Self.cosines(try text.embed(texts: Self.queries), try fp32.embed(texts: Self.queries))
                log("text cosine to fp32: min \(String(format: "%.6f", report.textCosineToFP32!.min)), mean \(String(format: "%.6f", report.textCosineToFP32!.mean))")
            }
        }

        if json {
            try CLI.printJSON(report)
        }
    }

    /// Short shop queries (≤ 16 tokens), the text side of the benchmark.
    static let queries = ["red floral summer dress", "black leather ankle boots", "white sneakers",
                          "men's slim fit chinos in navy blue", "oversized wool coat with belt",
                          "striped cotton t-shirt", "silver hoop earrings", "denim jacket with fur collar"]

    static func cosines(_ a: [[Float]], _ b: [[Float]]) -> BenchReport.Agreement {
        let values = zip(a, b).map { x, y in zip(x, y).reduce(Float(0)) { $0 + $1.0 * $1.1 } }  // unit vectors
        return .init(min: Double(values.min() ?? 0), mean: Double(values.reduce(0, +)) / Double(max(values.count, 1)))
    }

    private func log(_ line: String) {
        if json { FileHandle.standardError.write(Data((line + "\n").utf8)) } else { print(line) }
    }

    /// The benchmark images, decoded, and the decode time of the files.
    private func loadImages() throws -> (files: [URL], images: [RGBImage], decodeSeconds: Double) {
        var paths = images
        if paths.isEmpty, FileManager.default.fileExists(atPath: "Tests/Fixtures/images") { paths = ["Tests/Fixtures/images"] }
        var files: [URL] = []
        for p in paths {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: p, isDirectory: &isDirectory) else {
                throw ValidationError("no such image file or directory: \(p)")
            }
            if isDirectory.boolValue {
                let names = (try? FileManager.default.contentsOfDirectory(atPath: p)) ?? []
                files += names.sorted().filter { ["jpg", "jpeg", "png", "webp"].contains(($0 as NSString).pathExtension.lowercased()) }
                    .map { URL(fileURLWithPath: p).appendingPathComponent($0) }
            } else {
                files.append(URL(fileURLWithPath: p))
            }
        }
        let decoder = ImageDecoder()
        let start = Date()
        let decoded = files.compactMap { try? decoder.decode(contentsOf: $0) }.filter { $0.width >= 32 && $0.height >= 32 }
        let seconds = Date().timeIntervalSince(start)
        if decoded.isEmpty {
            return ([], [SyntheticPhoto.gradient(width: 640, height: 480)], 0)
        }
        return (files, decoded, seconds)
    }

    /// Multiply-adds ×2 of one image through the vision tower: linear layers, attention, patch embedding.
    static func visionFLOPs(_ c: CLIPVisionConfig) -> Double {
        let t = Double(c.tokens), w = Double(c.encoder.hiddenSize), i = Double(c.encoder.intermediateSize)
        let perLayer = 2 * t * (4 * w * w + 2 * w * i) + 2 * 2 * t * t * w
        let patches = 2 * Double(c.gridSize * c.gridSize) * Double(c.channels * c.patchSize * c.patchSize) * w
        return Double(c.encoder.layers) * perLayer + patches + 2 * w * Double(c.projectionDim)
    }

    /// sgemm 768×768×768 on the configured threads, best of 5, in GFLOP/s.
    static func sgemmProbe() -> Double {
        let n = 768
        let a = [Float](repeating: 0.5, count: n * n), b = [Float](repeating: 0.25, count: n * n)
        var c = [Float](repeating: 0, count: n * n)
        var best = Double.infinity
        for _ in 0..<6 {
            let t0 = Date()
            a.withUnsafeBufferPointer { ap in b.withUnsafeBufferPointer { bp in c.withUnsafeMutableBufferPointer { cp in
                BLAS.gemm(m: n, n: n, k: n, a: ap.baseAddress!, lda: n, b: bp.baseAddress!, ldb: n, c: cp.baseAddress!, ldc: n)
            } } }
            best = min(best, Date().timeIntervalSince(t0))
        }
        return 2 * Double(n * n * n) / best / 1e9
    }

    static func peakResidentBytes() -> Int {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        return Int(usage.ru_maxrss) * 1024
    }
}

struct BenchReport: Encodable {
    struct ImageRate: Encodable {
        var batch: Int
        var imagesPerSecond: Double
        var rooflineFraction: Double
    }

    struct Agreement: Encodable {
        var min: Double
        var mean: Double
    }

    var model: String
    var precision: String
    var threads: Int
    /// Which kernels ran: Vitrine's instruction set, oneDNN's and OpenBLAS's.
    var kernels = ""
    var sgemmGFLOPS: Double = 0
    /// Register-only 256-bit FMAs on every thread at once: the fp32 ceiling.
    var fmaPeakGFLOPS: Double?
    /// Images/s if the whole image tower ran at `fmaPeakGFLOPS`.
    var fmaCeilingImagesPerSecond: Double?
    /// Bits the int8 weights keep here: 8 where oneDNN has VNNI, 7 otherwise.
    var int8WeightBits: Int?
    var imageGFLOP: Double?
    var rooflineImagesPerSecond: Double?
    var decodeMillisecondsPerImage: Double?
    var preprocessMillisecondsPerImage: Double?
    var images: [ImageRate] = []
    var textP50Milliseconds: Double?
    var textP99Milliseconds: Double?
    var textQueries: Int?
    var peakResidentBytes: Int = 0
    var imageCosineToFP32: Agreement?
    var textCosineToFP32: Agreement?
}
