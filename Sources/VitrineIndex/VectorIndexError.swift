import VitrineCore

/// Errors of the vector index. Every case names what was wrong so a caller can report it in one line.
public enum VectorIndexError: Error, Equatable, Sendable, CustomStringConvertible {
    /// A vector's length is not the store's dimension.
    case dimensionMismatch(expected: Int, actual: Int, key: VectorKey?)
    /// A vector has NaN or infinite components, or is zero under the cosine metric.
    case invalidVector(key: VectorKey?, reason: String)
    /// An argument is out of range (k ≤ 0, bad parameters, …).
    case invalidArgument(String)
    /// A file of the index is damaged: truncated, bad checksum, impossible contents.
    case corrupted(file: String, reason: String)
    /// A file was written by a format version this build does not read.
    case unsupportedVersion(file: String, version: UInt32)
    /// The files on disk describe a different index (dimension, metric) than the one requested.
    case incompatible(file: String, reason: String)
    /// A system call failed.
    case io(file: String, operation: String, errno: Int32)
    /// The directory is in use by another process.
    case locked(file: String)
    /// The store was closed.
    case closed
    /// The store was opened read-only (a follower of another writer) and was asked to write.
    case readOnly
    /// There is no index at this path yet (no snapshot and no log): the writer has not created it.
    case notFound(file: String)
    /// A vector server (Milvus) cannot be reached, timed out or is not ready: `dependency` names it
    /// and where ("Milvus milvus://host:19530/shop"), `reason` what happened. Worth retrying later.
    case unavailable(dependency: String, reason: String)
    /// A vector server refused a request it understood (a collection of another shape, a limit).
    case rejected(dependency: String, reason: String)

    public var description: String {
        switch self {
        case .dimensionMismatch(let expected, let actual, let key):
            "vector\(key.map { " \($0)" } ?? "") has dimension \(actual), the index has \(expected)"
        case .invalidVector(let key, let reason):
            "vector\(key.map { " \($0)" } ?? "") is invalid: \(reason)"
        case .invalidArgument(let message):
            "invalid argument: \(message)"
        case .corrupted(let file, let reason):
            "\(file): corrupted: \(reason)"
        case .unsupportedVersion(let file, let version):
            "\(file): unsupported format version \(version)"
        case .incompatible(let file, let reason):
            "\(file): \(reason)"
        case .io(let file, let operation, let code):
            "\(file): \(operation) failed: \(String(cString: strerror(code)))"
        case .locked(let file):
            "\(file): the index is open in another process"
        case .closed:
            "the vector store is closed"
        case .readOnly:
            "the vector store is a read-only follower; write through the process that holds index/LOCK"
        case .notFound(let file):
            "\(file): no vector index here (neither snapshot.vidx nor wal.log exists yet)"
        case .unavailable(let dependency, let reason):
            "\(dependency) is unavailable: \(reason)"
        case .rejected(let dependency, let reason):
            "\(dependency) refused the request: \(reason)"
        }
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

extension VectorIndexError: VitrineError {
    public var kind: ErrorKind {
        switch self {
        case .dimensionMismatch, .invalidVector: .invalidInput
        case .invalidArgument: .invalidArgument
        case .corrupted, .unsupportedVersion, .incompatible: .corrupted
        case .locked, .readOnly: .conflict
        case .closed, .notFound, .unavailable: .unavailable
        case .rejected: .dependency
        case .io: .internalFailure
        }
    }
}
