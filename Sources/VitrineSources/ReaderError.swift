import VitrineCore

/// Why a dataset reader could not read a source, or an image of it could not be fetched.
///
/// Every case names the input (a path, `zip:member`, a URL) and, where there is one, the reason.
public enum ReaderError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Nothing exists at the path.
    case notFound(path: String)
    /// The file exists but could not be read (permissions, I/O error, not a zip, ...).
    case unreadable(path: String, reason: String)
    /// An image reference of a manifest is unusable (absolute path, escapes the folder, bad URL).
    case badImageReference(origin: String, reason: String)
    /// A download failed (connection, HTTP status, too many redirects, timeout).
    case download(url: String, reason: String)
    /// The image is larger than the limit, in bytes.
    case tooLarge(origin: String, limit: Int)
    /// The URL's host resolves to an address the download policy forbids (loopback, private, ...).
    case forbiddenAddress(url: String, address: String)
    /// The source is not in the format the reader expects (bad IDX magic, wrong dims, bad mapping).
    case invalidFormat(path: String, reason: String)

    public var description: String {
        switch self {
        case .notFound(let path):
            return "\(path): not found"
        case .unreadable(let path, let reason):
            return "\(path): cannot read: \(reason)"
        case .badImageReference(let origin, let reason):
            return "\(origin): bad image reference: \(reason)"
        case .download(let url, let reason):
            return "\(url): download failed: \(reason)"
        case .tooLarge(let origin, let limit):
            return "\(origin): larger than the limit of \(limit) bytes"
        case .forbiddenAddress(let url, let address):
            return "\(url): refused: the host resolves to \(address), a loopback, private, link-local or otherwise non-public address (allowPrivateNetworks is off)"
        case .invalidFormat(let path, let reason):
            return "\(path): invalid format: \(reason)"
        }
    }
}

extension ReaderError: VitrineError {
    public var kind: ErrorKind {
        switch self {
        case .notFound: .notFound
        case .tooLarge: .tooLarge
        case .badImageReference, .forbiddenAddress, .invalidFormat: .invalidInput
        case .download: .unprocessable  // the product names an image that cannot be had
        case .unreadable: .internalFailure
        }
    }
}
