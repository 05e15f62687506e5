import AsyncAlgorithms
import Foundation
import VitrineCatalog
import VitrineImage
import VitrineIndex
import VitrineSources

/// Ingest: source entries → image bytes (fetched in parallel) → content hashes → skip what is
/// stored unchanged → blob store → decode + resize (parallel) → batched CLIP forward pass →
/// index + catalog, batch by batch.
///
/// Two stages run at once: ``BatchPreparer`` (read → fetch → decode, in a child task) and
/// ``BatchCommitter`` (encode → commit). They meet at a channel that holds no batch: the next
/// batch is read, fetched and decoded while the current one is encoded, and at most two batches
/// are in memory, whatever the size of the source.
///
/// **Crash safety.** A batch reaches the stores in this order: (1) blobs (content-addressed, so a
/// crash leaves at worst unreferenced files for `gc`), (2) the catalog marks the batch's stored
/// products stale (clears their fingerprints), (3) the index upserts the new vectors and deletes
/// replaced images' vectors, (4) one catalog transaction writes the records, their fingerprints and
/// the index's sequence number. A crash after (2) leaves stale products the next run re-embeds; a
/// crash after (3) leaves index entries the catalog does not name, which
/// ``DataStore/reconcile()`` deletes when the next writer opens the directory (the sequence numbers
/// differ). Searches drop hits the catalog does not name, so readers never see a half-written batch.
public final class IngestPipeline: Sendable {
    public let store: DataStore
    public let encoder: IngestEncoder
    public let model: ModelRecord
    /// The sentence model that embeds products' text into the text index (nil: no text index).
    public let text: TextEmbedder?
    public let options: IngestOptions
    private let faults = FaultInjection.fromEnvironment()

    /// - Throws: ``EngineError/modelMismatch(data:recorded:given:)`` when the directory's vectors
    ///   were built by another model (re-embedding is `vitrine reindex`'s job).
    ///   ``EngineError/textModelMismatch(data:recorded:given:)`` when its text index was built by
    ///   another sentence model; ``EngineError/invalidArgument(_:)`` when it has a text index and
    ///   no text embedder is given, or a shard worker would have to build the text index.
    public init(store: DataStore, encoder: IngestEncoder, model: ModelRecord, text: TextEmbedder? = nil,
                options: IngestOptions = IngestOptions()) throws {
        guard (1...1000).contains(options.batchSize) else {
            throw EngineError.invalidArgument("batch size must be between 1 and 1000, not \(options.batchSize)")
        }
        guard !options.prune || options.limit == nil else {
            throw EngineError.invalidArgument("pruning needs a full pass over the source: drop --limit")
        }
        guard !options.prune || options.shard == nil else {
            throw EngineError.invalidArgument("pruning needs a full pass over the source: drop --shard (run --prune once, after the shards)")
        }
        guard store.isWriter else {
            throw EngineError.notWriter(path: store.directory.url.path)
        }
        if let recorded = try store.catalog.modelRecord(), recorded.weightsSHA256 != model.weightsSHA256 {
            throw EngineError.modelMismatch(data: store.directory.url.path, recorded: recorded.specifier, given: model.specifier)
        }
        try encoder.check(model)
        let data = store.directory.url.path
        if let recorded = store.textIndex?.record.model {
            guard let text else {
                throw EngineError.invalidArgument(
                    "data directory \(data) embeds products' text with \(recorded.specifier): ingest with --text-embedder \(recorded.specifier) "
                        + "(the default), or drop the text index first with `vitrine reindex --text-embedder none`")
            }
            try text.check(against: recorded, data: data)
        } else if text != nil, store.shard != nil {
            throw EngineError.invalidArgument(
                "data directory \(data) has no text index yet, and shard workers cannot build it together: run `vitrine reindex --text-embedder M` once, "
                    + "or ingest with --text-embedder none")
        }
        self.text = text
        self.store = store
        self.encoder = encoder
        self.model = model
        self.options = options
    }

    /// Runs the whole source. `progress` is called after every batch (and every skipped chunk)
    /// with the counts so far. Per-item problems land in the report; store failures (disk full,
    /// read-only directory) throw after everything committed so far is durable.
    /// A store without a text index first gets one over its stored products (once: their photos
    /// are not embedded again); `textProgress` hears of that build as (embedded, products).
    public func run(_ reader: DatasetReader,
                    progress: @escaping @Sendable (IngestCounts) -> Void = { _ in },
                    textProgress: (Int, Int) -> Void = { _, _ in }) async throws -> IngestReport {
        let reconciliation = store.reconciliation
        let started = Date()
        let vectors = try store.vectorStore(dimension: encoder.dimension)
        if try store.catalog.modelRecord() == nil {
            try store.catalog.setModelRecord(model)
        }
        var textIndex: (embedder: TextEmbedder, vectors: any VectorStore)?
        if let text {
            if store.textIndex == nil { try store.buildTextIndex(with: text, progress: textProgress) }
            textIndex = store.textIndex.map { (text, $0.vectors) }
        }
        let ledger = IngestLedger()
        // The stages share the cores: decoding takes a slot per product, a forward pass one for
        // its whole batch (its GEMM threads use the others). So while a batch is encoded the next
        // one decodes on the cores left, and on all of them otherwise, as the cooperative pool
        // used to arrange by accident; unbudgeted decode threads preempt the GEMM's, which wait
        // for each other (int8 ingest/encode-only ratio 3-4% lower in paired runs).
        let cores = DispatchSemaphore(value: max(1, options.decodeThreads))
        let preparer = BatchPreparer(
            catalog: store.catalog,
            fetcher: ImageFetcher(concurrentLoads: options.concurrentLoads, maxImageBytes: options.maxImageBytes),
            preparer: ImagePreparer(blobs: store.blobs, encoder: encoder, decoder: ImageDecoder(maxPixels: options.maxPixels),
                                    threads: options.decodeThreads, cores: cores),
            batchSize: options.batchSize, ledger: ledger)
        let committer = BatchCommitter(catalog: store.catalog, vectors: vectors, text: textIndex, encoder: encoder,
                                       faults: faults, ledger: ledger)

        // Batch n+1 is prepared while batch n is committed: `send` waits until the loop below
        // takes the batch, so the preparer runs one batch ahead and no further. An error on
        // either side ends the group and cancels the other.
        let batches = AsyncThrowingChannel<PreparedBatch, Error>()
        let limit = options.limit, shard = options.shard
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                do {
                    var entries = EntryReader(reader, limit: limit, shard: shard, ledger: ledger)
                    var last = false
                    while !last {
                        let batch = try await preparer.nextBatch(from: &entries, progress: progress)
                        last = batch.isLast
                        await batches.send(batch)
                    }
                    batches.finish()
                } catch {
                    batches.fail(error)
                }
            }
            for try await batch in batches {
                try await BlockingWork.run {
                    cores.wait()
                    defer { cores.signal() }
                    try committer.commit(batch)
                }
                progress(ledger.counts)
            }
            try await group.waitForAll()
        }

        var pruned: [String] = []
        var pruneSkipped: String?
        if options.prune {
            (pruned, pruneSkipped) = try prune(source: reader.source, ledger: ledger)
        }
        try vectors.flush()
        try textIndex?.vectors.flush()
        return IngestReport(
            source: reader.source, dataDirectory: store.directory.url.path, model: model.specifier,
            started: started, counts: ledger.counts,
            reconciliation: reconciliation.isEmpty ? nil : .init(orphanVectors: reconciliation.orphanVectors, staleProducts: reconciliation.staleProducts),
            failures: ledger.failures, pruned: pruned, pruneSkipped: pruneSkipped)
    }

    /// The products of `source` the pass did not list, removed unless `dryRun`. A rejected row
    /// without a readable id might be a listed product, so pruning is then skipped, not guessed.
    private func prune(source: String, ledger: IngestLedger) throws -> ([String], String?) {
        let failures = ledger.failures
        if let unnamed = failures.first(where: { $0.id == nil }) {
            return ([], "a row without a readable id was rejected (\(unnamed.location)); fix it or drop --prune")
        }
        let listed = ledger.seenIDs
        let gone = try store.catalog.productIDs(source: source).filter { !listed.contains($0) }
        if !options.dryRun, !gone.isEmpty {
            try store.delete(ids: gone)
        }
        return (gone, nil)
    }
}
