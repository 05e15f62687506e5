import ArgumentParser
import Foundation
import VitrineCatalog
import VitrineEngine
import VitrineHub
import VitrineModels
import VitrineTensor

/// `--data DIR`: the data directory a command works on; `--catalog`, `--blobs` and `--vectors`
/// move the catalog to PostgreSQL, the photos to S3 and the vectors to Milvus (or
/// VITRINE_CATALOG, VITRINE_BLOBS, VITRINE_VECTORS).
public struct DataOption: ParsableArguments {
    @Option(name: .customLong("data"), help: "The data directory (catalog, images, index; the index alone when the others are moved).")
    public var path: String

    @Option(name: .customLong("catalog"), help: ArgumentHelp(
        "The catalog in PostgreSQL: postgres://USER@HOST[:PORT]/DB[?schema=S]. Or VITRINE_CATALOG. The password comes from PGPASSWORD.",
        valueName: "url"))
    public var catalog: String?

    @Option(name: .customLong("blobs"), help: ArgumentHelp(
        "The photos in S3: s3://BUCKET[/PREFIX]?endpoint=URL&region=R. Or VITRINE_BLOBS. Credentials from AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY.",
        valueName: "url"))
    public var blobs: String?

    @Option(name: .customLong("vectors"), help: ArgumentHelp(
        "The vectors in Milvus: milvus://HOST[:PORT]/COLLECTION[?consistency=strong|bounded]. Or VITRINE_VECTORS. Credentials from MILVUS_TOKEN or MILVUS_PASSWORD.",
        valueName: "url"))
    public var vectors: String?

    public init() {}

    public var directory: DataDirectory {
        DataDirectory(URL(fileURLWithPath: (path as NSString).expandingTildeInPath).standardizedFileURL)
    }

    /// Where each role lives: the flags, else VITRINE_CATALOG, VITRINE_BLOBS and VITRINE_VECTORS,
    /// else the data directory. A password in a `--catalog` or `--vectors` URL is refused (the
    /// command line is public).
    public func storage(environment: [String: String] = ProcessInfo.processInfo.environment) throws -> StorageLocation {
        try StorageLocation.parse(
            directory: directory,
            catalog: catalog ?? environment["VITRINE_CATALOG"], catalogSetting: catalog != nil ? "--catalog" : "VITRINE_CATALOG",
            blobs: blobs ?? environment["VITRINE_BLOBS"], blobsSetting: blobs != nil ? "--blobs" : "VITRINE_BLOBS",
            vectors: vectors ?? environment["VITRINE_VECTORS"], vectorsSetting: vectors != nil ? "--vectors" : "VITRINE_VECTORS",
            environment: environment, passwordAllowed: catalog == nil && vectors == nil)
    }

    /// ``storage(environment:)`` for a command that needs something ingested already: an
    /// embedded catalog must exist (a PostgreSQL one is found out when opened).
    public func existingStorage() throws -> StorageLocation {
        let storage = try storage()
        if storage.catalog == .embedded, !storage.directory.exists {
            throw EngineError.emptyDataDirectory(path: storage.directory.url.path)
        }
        return storage
    }

    /// ``storage(environment:)`` for backup and restore, which copy a data directory whole.
    public func embeddedStorage(for command: String) throws -> DataDirectory {
        let storage = try storage()
        guard storage.isEmbedded else {
            throw EngineError.invalidArgument(
                "\(command) copies a data directory whole; with the catalog in PostgreSQL, the photos in S3 or the vectors in Milvus, copy them with `vitrine migrate --from … --to DIR` (or the backends' own tools)")
        }
        return storage.directory
    }
}

/// The encoders a reader of a data directory queries with: the recorded model by default; a
/// `--model` given must be the same model (same hub snapshot, or weights with the same hash).
public enum RecordedModel {
    /// The encoders a server queries with. With `precision` nil (no `--precision`), the image
    /// tower runs at the precision the data directory records and the text tower at the fastest
    /// precision that keeps the calibration queries' cosine to fp32 at 0.999 or more (also the
    /// precision `queryModel` loads at); otherwise both at `precision`.
    public static func loadForServing(store: DataStore, specifier: String?, precision: Precision?, progress: Bool = true)
        async throws -> (encoders: CLIPEncoders, queries: PrecisionCalibration.Choice) {
        if let precision {
            return (try await load(store: store, specifier: specifier, precision: precision, progress: progress), .init(precision: precision, minCosine: 1))
        }
        guard let record = try store.catalog.modelRecord() else {
            throw EngineError.noModelRecord(path: store.catalog.backend.location)
        }
        let photos = Precision(rawValue: record.precision) ?? .fp32
        let spec = specifier ?? record.specifier
        let directory = try await ModelLocation.resolve(spec, progress: progress ? ProgressBar().handler : nil)
        let choice = try PrecisionCalibration.fastest { precision in
            guard let text = try CLIPModel(directory: directory, precision: precision, textOnly: true).text else {
                throw EngineError.model(path: directory.path, reason: "serving needs both the text and the image tower")
            }
            return CLIPTextEncoder(tower: text, tokenizer: try CLIPTokenizer(directory: directory))
        }
        return (try await load(store: store, specifier: specifier, precision: photos, textPrecision: choice.precision, progress: progress), choice)
    }

    public static func load(store: DataStore, specifier: String?, precision: Precision, textPrecision: Precision? = nil,
                            progress: Bool = true) async throws -> CLIPEncoders {
        guard let record = try store.catalog.modelRecord() else {
            throw EngineError.noModelRecord(path: store.catalog.backend.location)
        }
        let spec = specifier ?? record.specifier
        let directory = try await ModelLocation.resolve(spec, progress: progress ? ProgressBar().handler : nil)
        if specifier != nil {
            try ModelIdentity.check(record, specifier: spec, directory: directory, data: store.directory.url)
        }
        let encoders = try CLIPEncoders(directory: directory, precision: precision, textPrecision: textPrecision)
        if let text = encoders.text, text.dimension != record.dimension {
            throw EngineError.model(path: directory.path, reason: "it makes \(text.dimension)-dimensional embeddings, the index holds \(record.dimension)")
        }
        return encoders
    }
}
