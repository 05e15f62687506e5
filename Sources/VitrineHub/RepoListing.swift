import Foundation

/// What the hub's model API says about a repo at one revision: the commit it resolves to and the
/// files it holds (`GET /api/models/{repo}/revision/{revision}?blobs=true`).
struct RepoListing: Sendable, Equatable {
    /// One entry of `siblings`.
    struct File: Sendable, Equatable {
        var name: String
        var size: Int64?
        /// Git blob SHA-1 of the file as stored in git (for LFS files, the pointer's).
        var blobID: String?
        /// SHA-256 of the content, present for LFS files only.
        var lfsSHA256: String?

        /// The name the hub's resolve endpoint gives the content (`X-Linked-Etag` for LFS files,
        /// `ETag` otherwise), which is also the blob's name in the cache.
        var etag: String? { lfsSHA256 ?? blobID }
    }

    var commit: String
    var files: [String: File]

    // Only the fields we use; `size`, `blobId` and `lfs` appear only with `?blobs=true`.
    private struct Wire: Decodable {
        struct Sibling: Decodable {
            struct LFS: Decodable {
                var sha256: String?
                var size: Int64?
            }
            var rfilename: String
            var size: Int64?
            var blobId: String?
            var lfs: LFS?
        }
        var sha: String?
        var siblings: [Sibling]?
    }

    init(commit: String, files: [File]) {
        self.commit = commit
        self.files = Dictionary(files.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
    }

    /// Decodes the API's JSON; throws a message suitable for ``HubError/invalidResponse(repo:url:reason:)``.
    init(json: Data) throws(ListingError) {
        let wire: Wire
        do {
            wire = try JSONDecoder().decode(Wire.self, from: json)
        } catch {
            throw ListingError(reason: "the model listing is not the expected JSON (\(error))")
        }
        guard let sha = wire.sha, HubRepository.isCommitHash(sha) else {
            throw ListingError(reason: "the model listing has no commit hash ('sha')")
        }
        guard let siblings = wire.siblings else {
            throw ListingError(reason: "the model listing has no file list ('siblings')")
        }
        self.init(commit: sha, files: siblings.map {
            File(name: $0.rfilename, size: $0.lfs?.size ?? $0.size, blobID: $0.blobId?.lowercased(), lfsSHA256: $0.lfs?.sha256?.lowercased())
        })
    }

    struct ListingError: Error {
        var reason: String
    }
}
