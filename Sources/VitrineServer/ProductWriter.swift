import Foundation
import Logging
import VitrineCatalog
import VitrineEngine
import VitrineModels
import VitrineSources

/// Makes the server the data directory's one writer when a write arrives.
///
/// The server is a reader; a write opens the directory for writing on demand
/// (`DataStore.openForWriting`, holder "vitrine serve"), so a running `vitrine ingest` makes it
/// answer 409 naming that ingest, and while the server holds the lock an ingest is refused the
/// same way. Writes are serialized (one at a time, a bounded line behind it). The writer stays
/// open for `writer.idleSeconds` after the last write (opening it loads the index, closing it
/// checkpoints it: both cost time on a large catalog), then lets the lock go; 0 closes it right
/// after each write. The reading store sees every write at its next refresh.
actor ProductWriter {
    let storage: StorageLocation
    /// The server's own catalog, read to refuse a write that would change nothing without
    /// taking the writer lock.
    let reader: any Catalog
    private(set) var encoder: IngestEncoder
    /// The model record the vectors were built with (the directory's own, read at start-up or at
    /// the last model reload): the pipeline checks it against the directory before writing.
    private(set) var model: ModelRecord
    /// The text index's sentence model, for products' text (nil: none loaded).
    private(set) var text: TextEmbedder?
    let idle: Duration
    let maxImageBytes: Int
    let maxPixels: Int
    let logger: Logger
    private let line = ConcurrencyLimiter(name: "write", slots: 1, queueLimit: 32)
    private var store: DataStore?
    private var lastUse = 0
    private var closer: Task<Void, Never>?

    init(storage: StorageLocation, reader: any Catalog, encoder: IngestEncoder, model: ModelRecord, text: TextEmbedder?,
         configuration: ServerConfiguration, logger: Logger) {
        self.text = text
        self.storage = storage
        self.reader = reader
        self.encoder = encoder
        self.model = model
        idle = configuration.writerIdle
        maxImageBytes = configuration.maxUploadBytes
        maxPixels = configuration.maxPixels
        self.logger = logger
    }

    enum Mode { case create, replace }

    /// Stores `product` with `images` (encoded bytes, in order; image ids "0", "1", ...).
    /// - Throws: 409 `already_exists` (create of a stored id), 404 (replace of an unknown id),
    ///   422 with the pipeline's reason (an image that does not decode, a record the catalog
    ///   refuses), 409 `writer_busy` when another process holds the writer lock.
    func write(_ product: Product, images: [Data], mode: Mode) async throws -> Product {
        // A write refused for what the catalog already says takes no lock (it would keep `vitrine
        // ingest` out for the idle time); the check is repeated under the lock.
        let reader = reader
        try Self.check(mode, product: product.id, exists: try await Self.offload { try reader.product(id: product.id) != nil })
        return try await serialized { store in
            try Self.check(mode, product: product.id, exists: try store.catalog.product(id: product.id) != nil)
            let sources = images.enumerated().map { index, bytes in
                SourceImage(id: String(index), origin: "upload \(index + 1) of product \(product.id)") { bytes }
            }
            var options = IngestOptions()
            options.batchSize = max(1, images.count)
            options.maxImageBytes = maxImageBytes
            options.maxPixels = maxPixels
            // Text is embedded where the directory has a text index; a write never builds one.
            let pipeline = try IngestPipeline(store: store, encoder: encoder, model: model, text: store.textIndex == nil ? nil : text,
                                              options: options)
            let report = try await pipeline.run(ItemsReader(source: product.source, items: [SourceItem(product: product, images: sources)]))
            if let failure = report.failures.first { throw failure }
            guard let stored = try store.catalog.product(id: product.id) else {
                throw APIError(.internalServerError, code: "internal", "product \(product.id) was written but cannot be read back")
            }
            return stored
        }
    }

    private static func check(_ mode: Mode, product id: String, exists: Bool) throws {
        switch (mode, exists) {
        case (.create, true):
            throw APIError(.conflict, code: "already_exists", "a product with id \(id) exists: replace it with PUT /api/v1/products/{id}")
        case (.replace, false):
            throw APIError.notFound("no product with id \(id) (create it with POST /api/v1/products)")
        default:
            break
        }
    }

    /// Removes a product. - Throws: 404 when there is none with this id (found without taking
    /// the writer lock).
    func delete(id: String) async throws {
        let reader = reader
        guard try await Self.offload({ try reader.product(id: id) != nil }) else {
            throw APIError.notFound("no product with id \(id)")
        }
        try await serialized { store in
            let removed = try await Self.offload { try store.delete(ids: [id]) }
            guard !removed.isEmpty else { throw APIError.notFound("no product with id \(id)") }
        }
    }

    /// Embeds the images of later writes with `encoder`, the image tower of `model` (after a
    /// reindex swapped the directory's model and the server loaded the new one).
    func adopt(encoder: IngestEncoder, model: ModelRecord) {
        self.encoder = encoder
        self.model = model
    }

    /// Embeds the text of later writes with `text` (the server loaded the text index's new model).
    func adopt(text: TextEmbedder) {
        self.text = text
    }

    /// Closes the writer now (shutdown).
    func close() async {
        closer?.cancel()
        closeWriter()
    }

    // MARK: Holding the writer

    private func serialized<T: Sendable>(_ body: (DataStore) async throws -> T) async throws -> T {
        try await line.acquire()
        defer { Task { await line.release() } }
        closer?.cancel()
        let store = try await openWriter()
        do {
            let value = try await body(store)
            scheduleClose()
            return value
        } catch {
            scheduleClose()
            throw error
        }
    }

    private func openWriter() async throws -> DataStore {
        if let store { return store }
        let storage = storage
        let opened = try await Self.offload { try DataStore.openForWriting(storage, holder: "vitrine serve") }
        if !opened.reconciliation.isEmpty {
            logger.notice("repaired an interrupted write", metadata: [
                "vitrine.orphan_vectors": .stringConvertible(opened.reconciliation.orphanVectors),
                "vitrine.stale_products": .stringConvertible(opened.reconciliation.staleProducts),
            ])
        }
        store = opened
        return opened
    }

    private func scheduleClose() {
        lastUse += 1
        guard idle > .zero else { closeWriter(); return }
        let use = lastUse
        let idle = idle
        closer = Task { [weak self] in
            try? await Task.sleep(for: idle)
            guard !Task.isCancelled else { return }
            await self?.closeIfUnused(since: use)
        }
    }

    private func closeIfUnused(since use: Int) {
        if use == lastUse { closeWriter() }
    }

    private func closeWriter() {
        guard let store else { return }
        self.store = nil
        do {
            try store.close()
        } catch {
            logger.error("closing the writer failed", metadata: ["error.message": .string(String(describing: error))])
        }
    }

    /// Blocking store work, off the concurrency pool.
    private static func offload<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
        try await Deadline.run(.seconds(3600), work)
    }
}
