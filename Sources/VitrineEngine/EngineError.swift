import Foundation
import VitrineCore

/// Errors of ingest and search that are not a store's or a reader's own: each names the input
/// (data directory, model, query) and says what to do.
public enum EngineError: Error, CustomStringConvertible, Sendable {
    /// The data directory has no catalog yet.
    case emptyDataDirectory(path: String)
    /// A remote catalog (PostgreSQL) that holds no Vitrine catalog yet; `location` names it.
    case emptyCatalog(location: String)
    /// The model given does not match the one that built the vectors.
    case modelMismatch(data: String, recorded: String, given: String)
    /// The text embedder given is not the sentence model that built the text index.
    case textModelMismatch(data: String, recorded: String, given: String)
    /// The data directory records no model (ingest did not get far enough).
    case noModelRecord(path: String)
    /// A model that cannot serve this purpose (no image tower, no weights, wrong dimension, ...).
    case model(path: String, reason: String)
    /// A query the engine refuses (empty, over-long, an image it cannot read).
    case invalidQuery(String)
    /// An option or parameter outside its range (batch size, `k`, offset, `--limit` with `--prune`).
    case invalidArgument(String)
    /// A write was asked of a data directory opened for reading: another process is (or may be)
    /// the writer.
    case notWriter(path: String)
    /// A product id that is not in the catalog.
    case unknownProduct(String)
    /// A fault injected by `VITRINE_FAULT` (tests of crash recovery).
    case injectedFault(String)

    public var description: String {
        switch self {
        case .emptyDataDirectory(let path):
            "data directory \(path) has no catalog: run `vitrine ingest SOURCE --data \(path) --model M` first"
        case .emptyCatalog(let location):
            "the catalog \(location) holds nothing yet: run `vitrine ingest SOURCE --data DIR --catalog URL --model M` first"
        case .modelMismatch(let data, let recorded, let given):
            "model \(given) is not the model that built the vectors of \(data) (\(recorded)); omit --model to use the recorded one, or re-embed with `vitrine reindex`"
        case .textModelMismatch(let data, let recorded, let given):
            "text embedder \(given) is not the sentence model that built the text index of \(data) (\(recorded)); omit --text-embedder to use the recorded one, or re-embed the products' text with `vitrine reindex --text-embedder \(given)`"
        case .noModelRecord(let path):
            "data directory \(path) records no model: run `vitrine ingest` with --model first"
        case .model(let path, let reason):
            "model \(path): \(reason)"
        case .invalidQuery(let reason):
            "invalid query: \(reason)"
        case .invalidArgument(let reason):
            reason
        case .notWriter(let path):
            "data directory \(path) is open for reading only: writing needs the writer lock (is another vitrine writing?)"
        case .unknownProduct(let id):
            "no product with id \(id)"
        case .injectedFault(let point):
            "fault injected at \(point)"
        }
    }
}

extension EngineError: VitrineError {
    public var kind: ErrorKind {
        switch self {
        case .emptyDataDirectory, .emptyCatalog, .noModelRecord: .unavailable
        case .modelMismatch, .textModelMismatch, .model: .misconfigured
        case .invalidQuery: .invalidInput
        case .invalidArgument: .invalidArgument
        case .notWriter: .conflict
        case .unknownProduct: .notFound
        case .injectedFault: .internalFailure
        }
    }
}
