import AsyncHTTPClient
import Foundation
import NIOCore

/// Pulls a model repository from the Hugging Face Hub into the shared hub cache and returns the
/// snapshot directory, a model directory in Hugging Face layout.
///
/// Only the files a model directory needs are fetched (see ``ModelFiles``). Files already in the
/// cache are not requested again; a later run costs one listing request. Offline
/// (``HubEnvironment/offline``), or when the hub cannot be reached, the cached snapshot is used.
///
/// ```swift
/// let client = HubClient(environment: HubEnvironment())
/// let directory = try await client.snapshot(repo: "openai/clip-vit-base-patch32") { progress in … }
/// ```
public struct HubClient: Sendable {
    public let environment: HubEnvironment
    /// The cache this client reads and fills.
    public let cache: HubCache
    /// Extra attempts, resuming where the last stopped, after a download fails on the network.
    public var maxRetries: Int
    let transport: HubTransport

    /// - Parameters:
    ///   - environment: endpoint, token, cache directory and offline switch.
    ///   - httpClient: the client to send requests with; it stays owned by the caller.
    ///   - maxRetries: extra attempts after a network failure during a download.
    public init(environment: HubEnvironment = HubEnvironment(), httpClient: HTTPClient = .shared, maxRetries: Int = 3) {
        self.environment = environment
        self.cache = HubCache(directory: environment.cacheDirectory)
        self.maxRetries = max(0, maxRetries)
        self.transport = HubTransport(client: httpClient, environment: environment)
    }

    /// Makes sure the model files of `repo` at `revision` are in the cache; returns
    /// `snapshots/<commit>` inside it.
    ///
    /// - Parameters:
    ///   - repo: `owner/name`.
    ///   - revision: branch, tag or commit hash.
    ///   - progress: called for each file that is downloaded.
    /// - Throws: ``HubError``.
    public func snapshot(repo: String, revision: String = "main", progress: DownloadProgressHandler? = nil) async throws(HubError) -> URL {
        try await snapshot(try HubRepository(id: repo, revision: revision), progress: progress)
    }

    /// Makes sure the model files of `repo` are in the cache; returns `snapshots/<commit>`.
    public func snapshot(_ repo: HubRepository, progress: DownloadProgressHandler? = nil) async throws(HubError) -> URL {
        if environment.offline {
            return try cache.cachedSnapshot(repo)
        }
        let listing: RepoListing
        do {
            listing = try await fetchListing(repo)
        } catch let error where error.isTransient {
            // Like huggingface_hub: an unreachable hub falls back to what is cached.
            if let cached = try? cache.cachedSnapshot(repo) { return cached }
            throw error
        }

        let plan = try ModelFiles.plan(for: listing, repo: repo)
        cache.tagCacheDirectory()
        for name in plan.files {
            try await ensure(name, in: listing, repo: repo, progress: progress)
        }
        if let index = plan.shardedIndex {
            let indexURL = cache.snapshotFolder(repo, commit: listing.commit).appendingPathComponent(index)
            for shard in try ModelFiles.shards(inIndexAt: indexURL, repo: repo) {
                try await ensure(shard, in: listing, repo: repo, progress: progress)
            }
        }
        // The ref moves last, so it never points offline users at a half-filled snapshot.
        try cache.writeRef(repo, commit: listing.commit)
        return cache.snapshotFolder(repo, commit: listing.commit)
    }

    /// `GET {endpoint}/api/models/{repo}/revision/{revision}?blobs=true`: the commit and, per file,
    /// size and hash, so cached files need no request and downloads can resume by name.
    func fetchListing(_ repo: HubRepository) async throws(HubError) -> RepoListing {
        let url = "\(environment.endpoint)/api/models/\(repo.id)/revision/\(HubTransport.encodeSegment(repo.revision))?blobs=true"
        let timeout = environment.metadataTimeout.components
        let response = try await transport.get(url, repo: repo, timeout: .nanoseconds(timeout.seconds * 1_000_000_000 + timeout.attoseconds / 1_000_000_000))
        guard response.status.code == 200 else {
            try? await drain(response.body)
            throw HubTransport.error(for: response, repo: repo, file: nil, tokenSent: environment.token != nil)
        }
        var body: ByteBuffer
        do {
            body = try await response.body.collect(upTo: 64 << 20)
        } catch {
            throw .network(endpoint: environment.endpoint, repo: repo.id, reason: HubTransport.describe(error))
        }
        let data = Data(body.readBytes(length: body.readableBytes) ?? [])
        do {
            return try RepoListing(json: data)
        } catch {
            throw .invalidResponse(repo: repo.id, url: url, reason: error.reason)
        }
    }

    /// Puts `file` into `snapshots/<commit>`: nothing if it is there, a link if its blob is, else
    /// a download.
    private func ensure(_ name: String, in listing: RepoListing, repo: HubRepository, progress: DownloadProgressHandler?) async throws(HubError) {
        let commit = listing.commit
        if cache.hasSnapshotFile(repo, commit: commit, file: name) { return }
        guard let file = listing.files[name] else {
            throw .fileNotFound(repo: repo.id, revision: repo.revision, file: name)
        }
        guard ModelFiles.isSafeRelativePath(name) else {
            throw .invalidResponse(repo: repo.id, url: environment.endpoint, reason: "file name '\(name)' is not a relative path")
        }
        if let etag = file.etag, BlobDigest(etag: etag) != nil,
           FileManager.default.fileExists(atPath: cache.blob(repo, etag: etag).path) {
            try cache.link(repo, commit: commit, file: name, etag: etag)
            return
        }
        let download = BlobDownload(
            transport: transport, cache: cache, repo: repo, commit: commit, file: file,
            maxRetries: maxRetries, progress: progress
        )
        let etag: String
        do {
            // Lock on the expected name; a file with no listed hash is rare enough to go unlocked.
            if let expected = file.etag, BlobDigest(etag: expected) != nil {
                etag = try await cache.withBlobLock(repo, etag: expected) {
                    // Another process may have finished it while we waited.
                    if FileManager.default.fileExists(atPath: cache.blob(repo, etag: expected).path) { return expected }
                    return try await download.run()
                }
            } else {
                etag = try await download.run()
            }
        } catch let error as HubError {
            throw error
        } catch {
            throw .fileSystem(path: cache.directory.path, operation: "lock", reason: String(describing: error))
        }
        try cache.link(repo, commit: commit, file: name, etag: etag)
    }

    private func drain(_ body: HTTPClientResponse.Body) async throws {
        for try await _ in body {}
    }
}
