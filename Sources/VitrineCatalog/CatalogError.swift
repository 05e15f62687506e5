import Foundation
import VitrineCore

/// Why a catalog, blob store or data directory operation failed. Every case names the file or
/// input concerned, so a message printed as is tells an operator what to fix.
public enum CatalogError: Error, CustomStringConvertible, Sendable, Equatable {
    /// Another writer holds the data directory's `writer.lock`; `holder` describes it
    /// ("vitrine ingest, pid 4242, since 2026-11-25T17:03:00Z").
    case locked(path: String, holder: String)
    /// The file or directory cannot be written (permissions, read-only file system, or a
    /// catalog opened read-only).
    case readOnly(path: String)
    /// The disk (or quota) is full.
    case diskFull(path: String)
    /// The blob store holds no blob with this key.
    case blobNotFound(BlobKey)
    /// A file that must exist does not.
    case notFound(path: String)
    /// The catalog was written by a newer Vitrine whose schema this build does not know.
    case schemaTooNew(path: String, found: Int, supported: Int)
    /// The file is not a valid catalog, or holds data this build cannot read.
    case corrupted(path: String, reason: String)
    /// The caller passed something the catalog refuses (the message says what and why).
    case invalidArgument(String)
    /// Any other I/O or SQLite failure.
    case io(path: String, reason: String)
    /// A service a store depends on (PostgreSQL, S3) cannot be reached, timed out, refused the
    /// credentials or is shutting down: `dependency` names it and where ("PostgreSQL
    /// postgres://vitrine@db:5432/shop"), `reason` what happened. Worth retrying later.
    case unavailable(dependency: String, reason: String)

    public var description: String {
        switch self {
        case let .locked(path, holder):
            return "data directory \(path) is locked by another writer: \(holder)"
        case let .readOnly(path):
            return "\(path) is read-only: cannot write there (check permissions, or open it for reading only)"
        case let .diskFull(path):
            return "cannot write \(path): the disk is full"
        case let .blobNotFound(key):
            return "blob \(key) is not in the blob store"
        case let .notFound(path):
            return "\(path) does not exist"
        case let .schemaTooNew(path, found, supported):
            return "catalog \(path) has schema version \(found), newer than the \(supported) this build supports: upgrade Vitrine"
        case let .corrupted(path, reason):
            return "\(path) is corrupted: \(reason)"
        case let .invalidArgument(message):
            return "invalid argument: \(message)"
        case let .io(path, reason):
            return "I/O error on \(path): \(reason)"
        case let .unavailable(dependency, reason):
            return "\(dependency) is unavailable: \(reason)"
        }
    }

    /// Maps a failed system call's `errno` to the case an operator can act on.
    static func fromErrno(_ code: Int32, path: String, doing action: String) -> CatalogError {
        switch code {
        case ENOSPC, EDQUOT: return .diskFull(path: path)
        case EACCES, EPERM, EROFS: return .readOnly(path: path)
        case ENOENT: return .notFound(path: path)
        default: return .io(path: path, reason: "\(action): \(String(cString: strerror(code)))")
        }
    }
}

extension CatalogError: VitrineError {
    public var kind: ErrorKind {
        switch self {
        case .locked: .conflict
        case .readOnly, .unavailable: .unavailable
        case .diskFull: .insufficientStorage
        case .blobNotFound: .notFound
        case .invalidArgument: .invalidInput
        case .schemaTooNew, .corrupted: .corrupted
        case .notFound, .io: .internalFailure
        }
    }
}
