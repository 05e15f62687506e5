import ArgumentParser
import Foundation
import VitrineCatalog
import VitrineCommandLine
import VitrineEngine
import VitrineModels
import VitrineServer
import VitrineSources

extension DatasetFormat: ExpressibleByArgument {}
extension DatasetSplit: ExpressibleByArgument {}

struct Ingest: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Add a catalog (GLAMI-1M, a folder, a CSV/JSONL manifest, Fashion-MNIST) to a data directory.",
        discussion: """
        Re-running is safe: products stored unchanged (same id, record and image bytes) are \
        skipped, changed ones re-embedded, nothing is removed. Interrupted runs resume. A report \
        (ingested, unchanged, updated, failed with reasons) is written to DIR/ingest/. Exit code 3 \
        when some items failed and the rest were ingested.
        """
    )

    @Argument(help: "The source: a GLAMI-1M folder or zip, a folder of images, a .csv/.jsonl manifest, or the Fashion-MNIST directory.")
    var source: String

    @Option(help: "The source's format (default: detected): glami, folder, manifest, fashion-mnist.")
    var format: DatasetFormat?

    @OptionGroup var data: DataOption
    @OptionGroup var model: ModelOption

    @Option(name: .customLong("text-embedder"), help: TextEmbedderModel.help)
    var textEmbedder: String?

    @Option(help: "Ingest at most this many products.")
    var limit: Int?

    @Option(name: .customLong("batch-size"), help: "Images per encoder pass (1–1000).")
    var batchSize = 64

    @Option(help: "Manifest: a JSON file mapping the manifest's columns (id, name, description, category, category_name, market, images).")
    var mapping: String?

    @Option(help: "GLAMI-1M and Fashion-MNIST: which split to read (test, train, all).")
    var split: DatasetSplit = .all

    @Option(name: .customLong("report"), help: "Also write the JSON report here.")
    var reportPath: String?

    @Flag(name: .customLong("allow-private-network"), help: "Manifest: allow image URLs on loopback and private networks.")
    var allowPrivateNetwork = false

    @Flag(help: "After a full pass, remove the stored products of this source that it no longer lists.")
    var prune = false

    @Flag(name: .customLong("dry-run"), help: "With --prune: list what would be removed, remove nothing.")
    var dryRun = false

    @Option(help: ArgumentHelp(
        "Ingest one of n disjoint parts of the source, i from 0 to n-1 (products by a hash of their id). With the catalog in PostgreSQL, photos in S3 and vectors in Milvus, the n workers run at once, on any machines, each with its own --data.",
        valueName: "i/n"))
    var shard: String?

    @Flag(help: "Print the report as JSON on standard output.")
    var json = false

    @Option(name: .customLong("log-format"), help: "Progress on standard error: text (a progress line) or json (one ECS JSON line per batch and at the end, for log shippers).")
    var logFormat: LogFormat = .text

    @Option(name: .customLong("metrics-address"), help: ArgumentHelp(
        "Serve the run's Prometheus metrics at http://HOST:PORT/metrics while it lasts (vitrine_ingest_*).", valueName: "host:port"))
    var metricsAddress: String?

    @Option(name: .customLong("metrics-linger"), help: ArgumentHelp(
        "With --metrics-address: keep serving the final values this long after the run ends or fails, so a scrape sees them (0 to 3600).", valueName: "seconds"))
    var metricsLinger: Double = 0

    func validate() throws {
        guard (1...1000).contains(batchSize) else { throw ValidationError("--batch-size must be between 1 and 1000") }
        if let limit, limit < 1 { throw ValidationError("--limit must be at least 1") }
        if prune && limit != nil { throw ValidationError("--prune needs a full pass over the source: drop --limit") }
        if dryRun && !prune { throw ValidationError("--dry-run goes with --prune") }
        if let metricsAddress { _ = try Self.hostAndPort(metricsAddress) }
        guard (0...3600).contains(metricsLinger) else { throw ValidationError("--metrics-linger must be between 0 and 3600 seconds") }
        if metricsLinger > 0 && metricsAddress == nil { throw ValidationError("--metrics-linger goes with --metrics-address") }
    }

    /// Keeps the listener up after the run (--metrics-linger), so the last scrape sees the final
    /// counts and a run that failed shows its error.
    private func linger() async {
        guard metricsLinger > 0 else { return }
        try? await Task.sleep(for: .milliseconds(Int(metricsLinger * 1000)))
    }

    /// `HOST:PORT`, `[IPv6]:PORT` or `:PORT` (every interface).
    static func hostAndPort(_ text: String) throws -> (host: String, port: Int) {
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]), (0...65535).contains(port) else {
            throw ValidationError("--metrics-address \(text): expected HOST:PORT with a port from 0 to 65535, e.g. 127.0.0.1:9464")
        }
        var host = String(text[..<colon])
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        return (host.isEmpty ? "0.0.0.0" : host, port)
    }

    func run() async throws {
        let report = try await CLI.run { () async throws -> IngestReport in
            let url = URL(fileURLWithPath: (source as NSString).expandingTildeInPath).standardizedFileURL
            var options = ReaderOptions(split: split)
            if let mapping { options.manifestMapping = try ManifestMapping.load(from: URL(fileURLWithPath: mapping)) }
            options.downloadPolicy.allowPrivateNetworks = allowPrivateNetwork
            let reader = try (format ?? DatasetFormat.detect(url)).makeReader(url: url, options: options)
            do {
                let report = try await ingest(reader)
                await Self.shutdown(reader)
                return report
            } catch {
                await Self.shutdown(reader)
                throw error
            }
        }
        if json {
            try CLI.printJSON(report)
        } else {
            CLI.say(Self.summary(report, dryRun: dryRun))
        }
        if report.counts.failed > 0 { throw CLI.partialSuccess }
    }

    /// A manifest reader owns an HTTP client for image URLs, which must be shut down.
    private static func shutdown(_ reader: any DatasetReader) async {
        if let manifest = reader as? ManifestReader { try? await manifest.shutdown() }
    }

    private func ingest(_ reader: any DatasetReader) async throws -> IngestReport {
        let shard = try shard.map { text in
            do { return try Shard(parsing: text) } catch CatalogError.invalidArgument(let message) { throw EngineError.invalidArgument(message) }
        }
        // Listening first: an address in use stops the run before anything is written.
        guard let metricsAddress else { return try await ingest(reader, shard: shard, metrics: nil) }
        let metrics = IngestMetrics()
        let (host, port) = try Self.hostAndPort(metricsAddress)
        let listener = try await metrics.serve(host: host, port: port)
        do {
            let report = try await ingest(reader, shard: shard, metrics: metrics)
            await linger()
            await listener.stop()
            return report
        } catch {
            metrics.stopped(by: error)
            metrics.finished()
            await linger()
            await listener.stop()
            throw error
        }
    }

    private func ingest(_ reader: any DatasetReader, shard: Shard?, metrics: IngestMetrics?) async throws -> IngestReport {
        let directory = try await model.resolve()
        let encoders = try CLIPEncoders(directory: directory, precision: model.precision)
        guard let image = encoders.image else {
            throw EngineError.model(path: directory.path, reason: "the model has no image tower")
        }
        let store = try DataStore.openForWriting(try data.storage(), holder: "vitrine ingest \(source)" + (shard.map { " --shard \($0)" } ?? ""),
                                                 shard: shard)
        var closed = false
        defer { if !closed { try? store.close() } }
        if !store.reconciliation.isEmpty {
            CLI.printNote("repaired an interrupted run: removed \(store.reconciliation.orphanVectors) uncommitted vectors, \(store.reconciliation.staleProducts) products will be re-embedded")
        }
        let record = try ModelIdentity.record(
            specifier: model.spec, directory: directory, precision: model.precision.rawValue, dimension: image.dimension)
        var ingestOptions = IngestOptions()
        ingestOptions.batchSize = batchSize
        ingestOptions.limit = limit
        ingestOptions.prune = prune
        ingestOptions.dryRun = dryRun
        ingestOptions.shard = shard
        let text = try await TextEmbedderModel.load(textEmbedder, store: store, precision: model.precision,
                                                    fallback: TextEmbedderModel.defaultModel)
        let pipeline = try IngestPipeline(store: store, encoder: IngestEncoder(image), model: record, text: text, options: ingestOptions)
        let catalog = store.catalog
        let observer = IngestObserver(format: logFormat, total: [limit, reader.expectedCount()].compactMap { $0 }.min(), metrics: metrics,
                                      generation: { try? catalog.generation() })
        metrics?.started()
        let report: IngestReport
        do {
            report = try await pipeline.run(reader, progress: { observer.progressed($0) }, textProgress: { done, total in
                if done == 0 && total > 0, let text {
                    CLI.printNote("embedding the text of the \(total) stored products with \(text.record.specifier) for the text index (once; photos are not embedded again)")
                }
            })
        } catch {
            observer.failed(error)
            metrics?.finished()
            throw error
        }
        observer.finished(report)
        metrics?.finished()
        try store.close()
        closed = true
        try write(report, to: data.directory.ingestURL.appendingPathComponent(Self.reportName(report.started)))
        if let reportPath { try write(report, to: URL(fileURLWithPath: reportPath)) }
        return report
    }

    static func reportName(_ date: Date) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withYear, .withMonth, .withDay, .withTime, .withColonSeparatorInTime]
        return "report-" + formatter.string(from: date).replacingOccurrences(of: ":", with: "") + ".json"
    }

    private func write(_ report: IngestReport, to url: URL) throws {
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try CLI.jsonEncoder().encode(report).write(to: url, options: .atomic)
    }

    static func summary(_ report: IngestReport, dryRun: Bool) -> String {
        let c = report.counts
        var lines = [
            "\(c.ingested) ingested, \(c.updated) updated, \(c.unchanged) unchanged, \(c.failed) failed "
                + "(\(c.imagesEmbedded) images embedded in \(String(format: "%.1f", report.seconds)) s, "
                + "\(String(format: "%.1f", report.imagesPerSecond)) images/s)",
        ]
        for failure in report.failures.prefix(20) {
            lines.append("  failed: \(failure.id.map { $0 + " " } ?? "")\(failure.location): \(failure.reason)")
        }
        if report.failures.count > 20 { lines.append("  … and \(report.failures.count - 20) more in the report") }
        if !report.pruned.isEmpty {
            lines.append("\(dryRun ? "would prune" : "pruned") \(report.pruned.count) products the source no longer lists: " + report.pruned.prefix(20).joined(separator: ", ")
                         + (report.pruned.count > 20 ? ", …" : ""))
        }
        if let skipped = report.pruneSkipped { lines.append("not pruned: \(skipped)") }
        return lines.joined(separator: "\n")
    }
}
