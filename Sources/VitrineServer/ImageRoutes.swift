import Foundation
import HTTPTypes
import Hummingbird
import VitrineCatalog

/// `GET /images/{key}`: stored product photos by their content key, and thumbnails (`?w=`).
///
/// The key is parsed as a ``BlobKey`` (64 hex digits and a known extension), never used as a
/// path. Content never changes under a key, so responses are cacheable forever and the ETag is
/// the SHA-256 (plus the width for thumbnails).
struct ImageRoutes {
    let blobs: any BlobStore
    let thumbnails: ThumbnailCache
    /// Bound on each call to the photo store (a remote one may hang).
    let timeout: Duration

    static let cacheControl = "public, max-age=31536000, immutable"

    func register(on router: Router<VitrineRequestContext>) {
        router.get("/images/{key}") { request, context in try await image(request, context) }
    }

    func image(_ request: Request, _ context: VitrineRequestContext) async throws -> Response {
        let raw = context.parameters.get("key") ?? ""
        guard let key = BlobKey(raw) else {
            throw APIError(.badRequest, code: "invalid_image_key",
                           "\"\(raw.prefix(80))\" is not an image key (64 lowercase hex digits, a dot, and jpg, png, webp or bin)")
        }
        let query = QueryParameters(request.uri)
        let width: Int? = try query.string("w").map { _ in
            try query.int("w", default: 0, in: ThumbnailCache.widths)
        }
        let etag = "\"\(key.sha256)\(width.map { "-w\($0)" } ?? "")\""
        var headers: HTTPFields = [.eTag: etag, .cacheControl: Self.cacheControl]
        let blobs = blobs
        // Calls to the store run on a blocking thread with a bound, never on the server's own.
        if let match = request.headers[.ifNoneMatch], Self.matches(match, etag: etag) {
            guard try await Deadline.run(timeout, { try blobs.contains(key) }) else { throw APIError.notFound("no image \(key)") }
            return Response(status: .notModified, headers: headers)
        }
        // A store that hands out direct URLs (S3 with `presign`) serves the bytes itself.
        if width == nil, let direct = blobs.directURL(for: key) {
            return Response(status: .temporaryRedirect, headers: [.location: direct.absoluteString, .cacheControl: "no-store"])
        }
        let data: Data
        if let width {
            guard try await Deadline.run(timeout, { try blobs.contains(key) }) else { throw APIError.notFound("no image \(key)") }
            data = try await thumbnails.thumbnail(key, width: width)
            headers[.contentType] = "image/png"
        } else {
            do {
                data = try await Deadline.run(timeout) { try blobs.get(key) }
            } catch CatalogError.blobNotFound {
                throw APIError.notFound("no image \(key)")
            }
            headers[.contentType] = key.mediaType
        }
        headers[.xContentTypeOptions] = "nosniff"
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }

    /// `If-None-Match` holds `*` or a list of (possibly weak) tags.
    static func matches(_ header: String, etag: String) -> Bool {
        header.split(separator: ",").contains { item in
            let tag = item.trimmingCharacters(in: .whitespaces)
            return tag == "*" || tag == etag || tag == "W/" + etag
        }
    }
}
