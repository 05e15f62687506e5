import ArgumentParser
import Foundation
import VitrineHub
import VitrineModels
import VitrineTensor

/// Loads the cross-encoder a search reranks with (`--reranker`): a hub id such as
/// cross-encoder/ms-marco-MiniLM-L-6-v2 or a directory in Hugging Face layout.
public enum RerankerModel {
    /// The reranker of `specifier`, or nil when none is named.
    public static func load(_ specifier: String?, precision: Precision, progress: Bool = true) async throws -> BERTCrossEncoder? {
        guard let specifier else { return nil }
        return try await load(specifier, precision: precision, progress: progress) as BERTCrossEncoder
    }

    /// The reranker of `specifier` at `precision`. - Throws: an error naming the reranker and why
    /// it cannot be used (missing, not a one-label BERT classifier).
    public static func load(_ specifier: String, precision: Precision, progress: Bool = true) async throws -> BERTCrossEncoder {
        let directory = try await ModelLocation.resolve(specifier, progress: progress ? ProgressBar().handler : nil)
        do {
            return try BERTCrossEncoder(directory: directory, precision: precision)
        } catch {
            throw ValidationError("reranker \(specifier): \(error)")
        }
    }
}
