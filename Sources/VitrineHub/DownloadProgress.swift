/// One progress report for one file of a hub download.
///
/// For each downloaded file the handler sees `.started`, any number of `.downloading`, then
/// `.finished`. Files already in the cache are not reported.
public struct DownloadProgress: Sendable, Equatable {
    /// Where in its download a file is.
    public enum Phase: Sendable, Equatable {
        case started
        case downloading
        case finished
    }

    /// `owner/name` of the repo.
    public var repo: String
    /// Path of the file inside the repo, e.g. `model.safetensors`.
    public var file: String
    /// Bytes on disk so far, including any resumed from an earlier attempt.
    public var completedBytes: Int64
    /// Size of the file, when the hub announced it.
    public var totalBytes: Int64?
    public var phase: Phase

    public init(repo: String, file: String, completedBytes: Int64, totalBytes: Int64?, phase: Phase) {
        self.repo = repo
        self.file = file
        self.completedBytes = completedBytes
        self.totalBytes = totalBytes
        self.phase = phase
    }
}

/// Receives ``DownloadProgress`` reports; called from the downloading task, so keep it cheap.
public typealias DownloadProgressHandler = @Sendable (DownloadProgress) -> Void
