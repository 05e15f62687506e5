import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The Hugging Face hub cache on disk, laid out exactly as Python's `huggingface_hub` lays it out
/// so that either tool reuses what the other downloaded:
///
/// ```
/// <cache>/models--owner--name/
///     blobs/<etag>                         file contents; etag = sha256 (LFS) or git blob sha1
///     snapshots/<commit>/<file>            relative symlink to ../../blobs/<etag>
///     refs/<revision>                      the commit hash the branch or tag pointed to (no newline)
/// <cache>/.locks/models--owner--name/<etag>.lock   flock(2) held while a blob is written
/// ```
public struct HubCache: Sendable {
    /// The hub cache directory (`HF_HUB_CACHE`).
    public let directory: URL

    public init(directory: URL) {
        self.directory = directory
    }

    /// `<cache>/models--owner--name`.
    public func repoFolder(_ repo: HubRepository) -> URL {
        directory.appendingPathComponent(repo.cacheFolderName, isDirectory: true)
    }

    func blob(_ repo: HubRepository, etag: String) -> URL {
        repoFolder(repo).appendingPathComponent("blobs", isDirectory: true).appendingPathComponent(etag)
    }

    /// Where a partial download of a blob lives between attempts (and between runs).
    func incompleteBlob(_ repo: HubRepository, etag: String) -> URL {
        repoFolder(repo).appendingPathComponent("blobs", isDirectory: true).appendingPathComponent(etag + ".incomplete")
    }

    /// `<cache>/models--owner--name/snapshots/<commit>`.
    public func snapshotFolder(_ repo: HubRepository, commit: String) -> URL {
        repoFolder(repo).appendingPathComponent("snapshots", isDirectory: true).appendingPathComponent(commit, isDirectory: true)
    }

    func refFile(_ repo: HubRepository) -> URL {
        repoFolder(repo).appendingPathComponent("refs", isDirectory: true).appendingPathComponent(repo.revision)
    }

    /// The commit a revision points to according to the cache: the revision itself when it is a
    /// commit hash, else the contents of `refs/<revision>`.
    public func cachedCommit(_ repo: HubRepository) -> String? {
        if repo.revisionIsCommitHash { return repo.revision }
        guard let text = try? String(contentsOf: refFile(repo), encoding: .utf8) else { return nil }
        let commit = text.trimmingCharacters(in: .whitespacesAndNewlines)
        return HubRepository.isCommitHash(commit) ? commit : nil
    }

    /// A complete cached snapshot of `repo`, without touching the network.
    ///
    /// Complete means `config.json` and the safetensors weights (all shards, if sharded) are
    /// present; tokenizer files are whatever the repo had and are not checked here.
    /// - Throws: ``HubError/notCached(repo:revision:cacheDirectory:missing:)`` naming what is absent.
    public func cachedSnapshot(_ repo: HubRepository) throws(HubError) -> URL {
        func notCached(_ missing: [String]) -> HubError {
            .notCached(repo: repo.id, revision: repo.revision, cacheDirectory: directory.path, missing: missing)
        }
        guard let commit = cachedCommit(repo) else {
            throw notCached(["refs/\(repo.revision) (the repo was never downloaded at this revision)"])
        }
        let folder = snapshotFolder(repo, commit: commit)
        // fileExists follows symlinks, so a link to a deleted blob counts as missing.
        func has(_ file: String) -> Bool {
            FileManager.default.fileExists(atPath: folder.appendingPathComponent(file).path)
        }
        var missing = ModelFiles.required.filter { !has($0) }
        if has(ModelFiles.weights) {
            // complete
        } else if has(ModelFiles.weightsIndex) {
            let shards = try ModelFiles.shards(inIndexAt: folder.appendingPathComponent(ModelFiles.weightsIndex), repo: repo)
            missing += shards.filter { !has($0) }
        } else {
            missing.append(ModelFiles.weights)
        }
        guard missing.isEmpty else { throw notCached(missing.map { "snapshots/\(commit)/\($0)" }) }
        return folder
    }

    /// Whether the snapshot already has `file` (a link to an existing blob).
    func hasSnapshotFile(_ repo: HubRepository, commit: String, file: String) -> Bool {
        FileManager.default.fileExists(atPath: snapshotFolder(repo, commit: commit).appendingPathComponent(file).path)
    }

    /// Points `snapshots/<commit>/<file>` at `blobs/<etag>` with a relative symlink, replacing
    /// whatever was there (relative, so the cache can be moved or mounted elsewhere).
    func link(_ repo: HubRepository, commit: String, file: String, etag: String) throws(HubError) {
        let pointer = snapshotFolder(repo, commit: commit).appendingPathComponent(file)
        let depth = file.split(separator: "/").count - 1
        let target = String(repeating: "../", count: 2 + depth) + "blobs/" + etag
        try createDirectory(pointer.deletingLastPathComponent())
        let manager = FileManager.default
        if (try? manager.destinationOfSymbolicLink(atPath: pointer.path)) == target { return }
        if (try? manager.attributesOfItem(atPath: pointer.path)) != nil {
            try? manager.removeItem(at: pointer)
        }
        do {
            try manager.createSymbolicLink(atPath: pointer.path, withDestinationPath: target)
        } catch {
            throw .fileSystem(path: pointer.path, operation: "create symlink", reason: error.localizedDescription)
        }
    }

    /// Records that `repo.revision` resolved to `commit` (atomically, and only when it changed,
    /// so a read-only cache that is already current is not an error).
    func writeRef(_ repo: HubRepository, commit: String) throws(HubError) {
        guard repo.revision != commit else { return }
        let ref = refFile(repo)
        if cachedCommit(repo) == commit { return }
        try createDirectory(ref.deletingLastPathComponent())
        let temporary = ref.deletingLastPathComponent().appendingPathComponent(".\(ref.lastPathComponent).\(UUID().uuidString.prefix(8)).tmp")
        do {
            try Data(commit.utf8).write(to: temporary)
            guard rename(temporary.path, ref.path) == 0 else {
                throw HubError.fileSystem(path: ref.path, operation: "write ref", reason: String(cString: strerror(errno)))
            }
        } catch let error as HubError {
            try? FileManager.default.removeItem(at: temporary)
            throw error
        } catch {
            try? FileManager.default.removeItem(at: temporary)
            throw .fileSystem(path: ref.path, operation: "write ref", reason: error.localizedDescription)
        }
    }

    func createDirectory(_ url: URL) throws(HubError) {
        do {
            try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        } catch {
            throw .fileSystem(path: url.path, operation: "create directory", reason: error.localizedDescription)
        }
    }

    /// Runs `body` holding the same per-blob lock file Python's `huggingface_hub` uses, so two
    /// processes (of either kind) never append to one partial download.
    func withBlobLock<T>(_ repo: HubRepository, etag: String, _ body: () async throws -> T) async throws -> T {
        let folder = directory.appendingPathComponent(".locks", isDirectory: true).appendingPathComponent(repo.cacheFolderName, isDirectory: true)
        try createDirectory(folder)
        let path = folder.appendingPathComponent(etag + ".lock").path
        let fd = open(path, O_RDWR | O_CREAT, 0o644)
        guard fd >= 0 else {
            throw HubError.fileSystem(path: path, operation: "open lock file", reason: String(cString: strerror(errno)))
        }
        defer { close(fd) }  // closing releases the flock
        // Poll rather than block so a waiting download does not pin a concurrency thread.
        while flock(fd, LOCK_EX | LOCK_NB) != 0 {
            guard errno == EWOULDBLOCK || errno == EINTR else {
                throw HubError.fileSystem(path: path, operation: "lock", reason: String(cString: strerror(errno)))
            }
            try await Task.sleep(for: .milliseconds(200))
        }
        return try await body()
    }

    /// Marks the cache directory so backup tools skip it, as `huggingface_hub` does.
    func tagCacheDirectory() {
        let tag = directory.appendingPathComponent("CACHEDIR.TAG")
        guard !FileManager.default.fileExists(atPath: tag.path) else { return }
        let text = "Signature: 8a477f597d28d172789f06886806bc55\n# This file is a cache directory tag created by Vitrine (Hugging Face hub cache).\n"
        try? Data(text.utf8).write(to: tag, options: .atomic)
    }
}
