import ArgumentParser
import Foundation
import VitrineEngine
import VitrineHub
import VitrineModels
import VitrineTensor

/// Loads the sentence model of the text index (`--text-embedder`, or `VITRINE_TEXT_EMBEDDER`): a hub
/// id such as sentence-transformers/all-MiniLM-L6-v2 or a directory; `none` for no text index.
public enum TextEmbedderModel {
    /// What ingest embeds products' text with when nothing else is named or recorded.
    public static let defaultModel = "sentence-transformers/all-MiniLM-L6-v2"
    public static let environmentVariable = "VITRINE_TEXT_EMBEDDER"
    public static let help = ArgumentHelp(
        "The sentence model of the text index (mode=text): a hub id such as \(defaultModel), a directory, or none. "
            + "Default: the one the data directory records; for ingest into a directory without one, \(defaultModel). Or VITRINE_TEXT_EMBEDDER.",
        valueName: "model")

    /// The text embedder to use with `store`. `specifier` (the flag, else the environment variable)
    /// wins; `none` means none; without one, the store's recorded sentence model, else `fallback`
    /// (ingest's default model; nil for readers, which then search without a text retriever).
    /// - Throws: an error naming the model when it cannot be loaded, or
    ///   ``EngineError/textModelMismatch(data:recorded:given:)`` when a reader names another model
    ///   than the one that built the text index.
    public static func load(_ specifier: String?, store: DataStore, precision: Precision, fallback: String? = nil,
                            checkRecorded: Bool = true, progress: Bool = true,
                            environment: [String: String] = ProcessInfo.processInfo.environment) async throws -> TextEmbedder? {
        let named = specifier ?? environment[environmentVariable].flatMap { $0.isEmpty ? nil : $0 }
        if named?.lowercased() == "none" { return nil }
        let recorded = store.textIndex?.record.model
        guard let spec = named ?? recorded?.specifier ?? fallback else { return nil }
        let embedder: TextEmbedder
        do {
            embedder = try await load(spec, precision: precision, progress: progress)
        } catch {
            let origin = named != nil ? "named by --text-embedder or \(environmentVariable)"
                : recorded != nil ? "recorded by the data directory" : "ingest's default"
            var reason = "\(error)"
            if case EngineError.model(let path, let inner) = error, path == spec { reason = inner }
            while reason.hasSuffix(".") { reason.removeLast() }
            throw EngineError.model(path: spec, reason: "the text index's sentence model (\(origin)) cannot be loaded: \(reason). "
                                    + "Name another with --text-embedder M, or none to go without a text index")
        }
        if checkRecorded, let recorded, !recorded.sameEmbeddings(as: embedder.record) {
            throw EngineError.textModelMismatch(data: store.directory.url.path, recorded: recorded.specifier, given: spec)
        }
        return embedder
    }

    /// The sentence model of `specifier` at `precision`, with its record.
    public static func load(_ specifier: String, precision: Precision, progress: Bool = true) async throws -> TextEmbedder {
        let directory = try await ModelLocation.resolve(specifier, progress: progress ? ProgressBar().handler : nil)
        do {
            let encoder = try BERTSentenceEncoder(directory: directory, precision: precision)
            let record = try ModelIdentity.record(specifier: specifier, directory: directory, precision: precision.rawValue,
                                                  dimension: encoder.dimension)
            return TextEmbedder(encoder: encoder, record: record)
        } catch {
            throw EngineError.model(path: specifier, reason: "not a sentence-transformers BERT model: \(error)")
        }
    }
}
