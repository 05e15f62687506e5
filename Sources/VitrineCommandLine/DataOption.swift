import ArgumentParser
import Foundation
import VitrineCatalog
import VitrineEngine
import VitrineHub
import VitrineModels
import VitrineTensor

/// `--data DIR`: the data directory a command works on.
public struct DataOption: ParsableArguments {
    @Option(name: .customLong("data"), help: "The data directory (catalog, images, index).")
    public var path: String

    public init() {}

    public var directory: DataDirectory {
        DataDirectory(URL(fileURLWithPath: (path as NSString).expandingTildeInPath).standardizedFileURL)
    }
}

/// The encoders a reader of a data directory queries with: the recorded model by default; a
/// `--model` given must be the same model (same hub snapshot, or weights with the same hash).
public enum RecordedModel {
    public static func load(store: DataStore, specifier: String?, precision: Precision, progress: Bool = true) async throws -> CLIPEncoders {
        guard let record = try store.catalog.modelRecord() else {
            throw EngineError.noModelRecord(path: store.directory.url.path)
        }
        let spec = specifier ?? record.specifier
        let directory = try await ModelLocation.resolve(spec, progress: progress ? ProgressBar().handler : nil)
        if specifier != nil {
            try ModelIdentity.check(record, specifier: spec, directory: directory, data: store.directory.url)
        }
        let encoders = try CLIPEncoders(directory: directory, precision: precision)
        if let text = encoders.text, text.dimension != record.dimension {
            throw EngineError.model(path: directory.path, reason: "it makes \(text.dimension)-dimensional embeddings, the index holds \(record.dimension)")
        }
        return encoders
    }
}
