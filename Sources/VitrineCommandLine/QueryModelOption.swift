import ArgumentParser
import Foundation
import VitrineEngine
import VitrineHub
import VitrineModels
import VitrineTensor

/// Loads `--query-model` (or `VITRINE_QUERY_MODEL`): a text tower trained into a CLIP model's
/// space that encodes text queries in place of the CLIP model's own.
public enum QueryModelLoader {
    public static let environmentVariable = "VITRINE_QUERY_MODEL"
    public static let help = ArgumentHelp(
        "A text tower trained into the CLIP model's space that encodes text queries in its place: a hub id or a directory, "
            + "e.g. sentence-transformers/clip-ViT-B-32-multilingual-v1 for queries in 50 languages against photos encoded by "
            + "openai/clip-vit-base-patch32 (photos are not re-encoded). Or VITRINE_QUERY_MODEL.",
        valueName: "model")

    /// The query model `specifier` names (else the environment variable's), checked to make
    /// embeddings of `dimension`; nil when neither names one.
    /// - Throws: an error naming the model when it cannot be loaded or does not fit.
    public static func load(_ specifier: String?, precision: Precision, dimension: Int, progress: Bool = true,
                            environment: [String: String] = ProcessInfo.processInfo.environment) async throws -> QueryModel? {
        try await load(specifier, precision: Optional(precision), dimension: dimension, progress: progress, environment: environment)?.model
    }

    /// The same, at the fastest precision that keeps the calibration queries within cosine 0.999
    /// of fp32 when `precision` is nil (a server without `--precision`), with the choice.
    public static func load(_ specifier: String?, precision: Precision?, dimension: Int, progress: Bool = true,
                            environment: [String: String] = ProcessInfo.processInfo.environment)
        async throws -> (model: QueryModel, precision: PrecisionCalibration.Choice)? {
        guard let spec = specifier ?? environment[environmentVariable].flatMap({ $0.isEmpty ? nil : $0 }) else { return nil }
        let directory = try await ModelLocation.resolve(spec, progress: progress ? ProgressBar().handler : nil)
        let encoder: BERTSentenceEncoder
        let choice: PrecisionCalibration.Choice
        do {
            if let precision {
                choice = PrecisionCalibration.Choice(precision: precision, minCosine: 1)
            } else {
                choice = try PrecisionCalibration.fastest { try BERTSentenceEncoder(directory: directory, precision: $0) }
            }
            encoder = try BERTSentenceEncoder(directory: directory, precision: choice.precision)
        } catch {
            throw EngineError.model(path: spec, reason: "not a sentence-transformers BERT or DistilBERT text tower: \(error)")
        }
        let model = QueryModel(specifier: spec, encoder: encoder)
        try model.check(dimension: dimension)
        return (model, choice)
    }
}
