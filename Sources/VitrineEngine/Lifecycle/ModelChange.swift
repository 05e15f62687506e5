import Foundation
import VitrineCatalog
import VitrineCore

/// A search was asked of a ``SearchEngine`` whose encoders belong to a model the data directory no
/// longer serves: a `vitrine reindex` swapped in another model since the engine was made.
///
/// Answering would compare a query embedded by one model with vectors of another (meaningless
/// neighbours), so the engine refuses. Long-running readers catch it, load the encoders of
/// ``serving`` (``DataStore/model``) and make a new engine; one-shot commands just run again.
public struct ModelChangedError: VitrineError, Sendable {
    /// The data directory.
    public var data: String
    /// The model the directory's index now holds vectors of.
    public var serving: ModelRecord
    /// The model the engine's encoders belong to.
    public var loaded: ModelRecord

    public init(data: String, serving: ModelRecord, loaded: ModelRecord) {
        self.data = data
        self.serving = serving
        self.loaded = loaded
    }

    /// Transient: the reader reloads its encoders and answers again.
    public var kind: ErrorKind { .unavailable }

    public var description: String {
        "data directory \(data) now serves vectors of model \(serving.specifier) (reindexed); this search engine holds encoders of \(loaded.specifier): reload them"
    }
}

extension ModelRecord {
    /// Whether vectors of `other` are comparable with this model's: the same weights (precision
    /// aside: bf16 and int8 move embeddings far less than any ranking cares about, cosine ≥ 0.995
    /// to fp32 on real sizes) and dimension.
    public func sameEmbeddings(as other: ModelRecord) -> Bool {
        weightsSHA256 == other.weightsSHA256 && dimension == other.dimension
    }
}
