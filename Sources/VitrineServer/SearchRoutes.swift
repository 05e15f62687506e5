import Foundation
import Hummingbird
import VitrineEngine

/// Text search, image search, "more like this" and the facets.
struct SearchRoutes {
    let service: SearchService
    let configuration: ServerConfiguration

    func register(on router: Router<VitrineRequestContext>) {
        router.get("/api/v1/search") { request, _ in try await searchText(request) }
        router.post("/api/v1/search/image") { request, _ in try await searchImage(request) }
        router.get("/api/v1/products/{id}/similar") { request, context in try await similar(request, context) }
        router.get("/api/v1/categories") { _, _ in try JSONCoding.response(try await service.categories()) }
        router.get("/api/v1/markets") { _, _ in try JSONCoding.response(try await service.markets()) }
    }

    func searchText(_ request: Request) async throws -> Response {
        let query = QueryParameters(request.uri)
        guard let q = try query.string("q") else {
            throw APIError(.badRequest, code: "invalid_query", "the query parameter q is missing")
        }
        try Self.checkLength(q)
        let response = try await service.search(text: q, filter: try query.filter(), page: try query.page(), options: try query.textOptions())
        return try JSONCoding.response(response)
    }

    /// The engine counts a query's length in characters (grapheme clusters); the OpenAPI document,
    /// as JSON Schema does, in Unicode scalars, which are never fewer: this holds both limits.
    static func checkLength(_ q: String) throws {
        let length = q.unicodeScalars.count
        guard length <= SearchEngine.maxQueryLength else {
            throw APIError(.badRequest, code: "invalid_query", "the query is \(length) characters long; the limit is \(SearchEngine.maxQueryLength)")
        }
    }

    /// The photo is the `image` (or `file`, or first file) part of a `multipart/form-data` body,
    /// or the whole body when it is not multipart.
    func searchImage(_ request: Request) async throws -> Response {
        let query = QueryParameters(request.uri)
        let filter = try query.filter()
        let page = try query.page()
        let image = try await Self.upload(request, limit: configuration.maxUploadBytes, timeout: configuration.requestTimeout).image
        return try JSONCoding.response(try await service.search(image: image, filter: filter, page: page))
    }

    /// The uploaded photo of an image search, and the multipart form it came in (nil for a raw
    /// body), so the web UI's form route can read its other fields.
    static func upload(_ request: Request, limit: Int, timeout: Duration) async throws -> (image: Data, form: MultipartForm?) {
        let contentType = request.headers[.contentType] ?? ""
        let boundary = MultipartForm.boundary(contentType: contentType)
        if boundary == nil, contentType.lowercased().hasPrefix("multipart/") {
            throw APIError.badRequest("the Content-Type \(contentType.prefix(100)) names no boundary", code: "invalid_multipart")
        }
        // A multipart body carries headers and boundaries besides the image.
        let body = try await BodyReader.collect(request, limit: boundary == nil ? limit : limit + 64 * 1024, what: "the upload",
                                                timeout: timeout)
        guard let boundary else {
            return (body, nil)
        }
        let form = try MultipartForm(body: body, boundary: boundary)
        let images = form.parts.filter { $0.name == "image" }.count
        guard images <= 1 else {
            throw APIError.badRequest("the multipart body has \(images) parts named image; a search takes one photo", code: "invalid_multipart")
        }
        guard let part = form.parts.first(where: { $0.name == "image" }) ?? form.parts.first(where: { $0.name == "file" })
                ?? form.parts.first(where: { $0.filename != nil }) else {
            throw APIError(.unprocessableContent, code: "invalid_image", "the multipart body has no image part (name it \"image\")")
        }
        guard part.body.count <= limit else {
            throw APIError.tooLarge("the image is \(part.body.count) bytes, more than the limit of \(limit) bytes")
        }
        return (part.body, form)
    }

    func similar(_ request: Request, _ context: VitrineRequestContext) async throws -> Response {
        let id = try PathParameter.productID(context)
        let query = QueryParameters(request.uri)
        return try JSONCoding.response(try await service.similar(to: id, filter: try query.filter(), page: try query.page()))
    }
}

/// Reading a request body with a size limit that answers 413 naming the limit, and a time limit
/// (the request's) that answers 408: a body dribbled a byte at a time cannot hold a connection.
enum BodyReader {
    static func collect(_ request: Request, limit: Int, what: String, timeout: Duration) async throws -> Data {
        if let length = request.headers[.contentLength].flatMap({ Int($0) }), length > limit {
            throw APIError.tooLarge("\(what) is \(length) bytes, more than the limit of \(limit) bytes")
        }
        do {
            var buffer = try await withThrowingTaskGroup(of: ByteBuffer?.self) { group in
                group.addTask { try await request.body.collect(upTo: limit) }
                group.addTask {
                    try await Task.sleep(for: timeout)
                    return nil
                }
                defer { group.cancelAll() }
                guard let first = try await group.next(), let body = first else {
                    throw APIError(.requestTimeout, code: "timeout",
                                   "\(what) did not arrive within \(timeout.components.seconds) s (limits.requestTimeoutSeconds)",
                                   headers: [.connection: "close"])
                }
                return body
            }
            // Fewer bytes than announced: the client closed the connection mid-body.
            if let length = request.headers[.contentLength].flatMap({ Int($0) }), buffer.readableBytes < length {
                throw ClientClosedError(received: buffer.readableBytes, announced: length)
            }
            return Data(buffer.readBytes(length: buffer.readableBytes) ?? [])
        } catch let error as HTTPError where error.status == .contentTooLarge {
            throw APIError.tooLarge("\(what) is larger than the limit of \(limit) bytes")
        }
    }
}

/// A body that ended before its announced length: the client went away.
struct ClientClosedError: Error, CustomStringConvertible {
    var received: Int
    var announced: Int
    var description: String { "the client closed the connection after \(received) of \(announced) body bytes" }
}

/// Path parameters, percent-decoded (ids may contain `/` or spaces, sent as `%2F`, `%20`).
enum PathParameter {
    static func productID(_ context: VitrineRequestContext) throws -> String {
        guard let raw = context.parameters.get("id"), let id = raw.removingPercentEncoding, !id.isEmpty else {
            throw APIError.badRequest("the product id in the path is empty or not valid percent-encoded UTF-8")
        }
        // Characters as the OpenAPI document counts them (Unicode scalars), not bytes.
        guard id.unicodeScalars.count <= 1024, !id.contains("\0") else {
            throw APIError.badRequest("the product id is longer than 1024 characters or contains a NUL character")
        }
        return id
    }
}
