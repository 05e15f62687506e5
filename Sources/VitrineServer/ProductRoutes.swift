import Foundation
import Hummingbird
import VitrineCatalog

/// Product records: read, and (with an API key) create, replace, delete.
///
/// Writes take `multipart/form-data`: a `product` part holding the record as JSON
/// (`{"id", "name", "description", "category", "category_name", "market", "extra"}`) and one or
/// more `image` file parts (JPEG, PNG or WebP; image ids are their positions, "0", "1", ...).
/// Images are stored and embedded on the way in.
struct ProductRoutes {
    let service: SearchService
    /// Nil when writes are disabled (no API keys).
    let writer: ProductWriter?
    let authorization: WriteAuthorization
    let configuration: ServerConfiguration

    static let maxImages = 8

    func register(on router: Router<VitrineRequestContext>) {
        router.get("/api/v1/products/{id}") { _, context in
            let id = try PathParameter.productID(context)
            return try JSONCoding.response(ProductResponse(try await service.product(id: id)))
        }
        router.post("/api/v1/products") { request, _ in
            try authorization.check(request)
            guard let writer else { throw APIError(.forbidden, code: "writes_disabled", "writes are disabled") }
            let (product, images) = try await parseWrite(request, pathID: nil)
            let stored = try await writer.write(product, images: images, mode: .create)
            try? service.refresh()
            let location = "/api/v1/products/" + (stored.id.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed.subtracting(["/"])) ?? stored.id)
            return try JSONCoding.response(ProductResponse(stored), status: .created, headers: [.location: location])
        }
        router.put("/api/v1/products/{id}") { request, context in
            try authorization.check(request)
            guard let writer else { throw APIError(.forbidden, code: "writes_disabled", "writes are disabled") }
            let id = try PathParameter.productID(context)
            let (product, images) = try await parseWrite(request, pathID: id)
            let stored = try await writer.write(product, images: images, mode: .replace)
            try? service.refresh()
            return try JSONCoding.response(ProductResponse(stored))
        }
        router.delete("/api/v1/products/{id}") { request, context in
            try authorization.check(request)
            guard let writer else { throw APIError(.forbidden, code: "writes_disabled", "writes are disabled") }
            let id = try PathParameter.productID(context)
            try await writer.delete(id: id)
            try? service.refresh()
            return Response(status: .noContent)
        }
    }

    /// The record and image bytes of a write. `pathID` (PUT) must agree with the record's id
    /// when the record gives one.
    func parseWrite(_ request: Request, pathID: String?) async throws -> (Product, [Data]) {
        guard let boundary = MultipartForm.boundary(contentType: request.headers[.contentType] ?? "") else {
            throw APIError(.unsupportedMediaType, code: "unsupported_media_type",
                           "product writes take multipart/form-data with a \"product\" JSON part and \"image\" file parts")
        }
        let limit = configuration.maxUploadBytes * Self.maxImages + 256 * 1024
        let form = try MultipartForm(body: try await BodyReader.collect(request, limit: limit, what: "the product upload",
                                                                                       timeout: configuration.requestTimeout), boundary: boundary)
        guard let recordPart = form.parts.first(where: { $0.name == "product" }) else {
            throw APIError.badRequest("the form has no \"product\" part with the record as JSON", code: "invalid_product")
        }
        let input: ProductInput
        do {
            input = try JSONCoding.decoder.decode(ProductInput.self, from: recordPart.body)
        } catch let error as DecodingError {
            throw APIError(.badRequest, code: "invalid_product", "the \"product\" part: " + APIError.describe(error))
        }
        let images = form.parts.filter { $0.name == "image" }.map(\.body)
        guard !images.isEmpty else {
            throw APIError.badRequest("the form has no \"image\" part: a product needs at least one image", code: "invalid_product")
        }
        guard images.count <= Self.maxImages else {
            throw APIError.badRequest("the form has \(images.count) images; the limit is \(Self.maxImages)", code: "invalid_product")
        }
        if let large = images.firstIndex(where: { $0.count > configuration.maxUploadBytes }) {
            throw APIError.tooLarge("image \(large + 1) is \(images[large].count) bytes, more than the limit of \(configuration.maxUploadBytes) bytes")
        }
        let id: String
        switch (pathID, input.id) {
        case (let path?, let body?) where path != body:
            throw APIError.badRequest("the record's id \(body) differs from the id in the path, \(path)", code: "invalid_product")
        case (let path?, _): id = path
        case (nil, let body?): id = body
        case (nil, nil): throw APIError.badRequest("the record has no id", code: "invalid_product")
        }
        guard !id.isEmpty, id.unicodeScalars.count <= 1024, !id.contains("\0") else {
            throw APIError.badRequest("the product id must be 1 to 1024 characters long, without NUL characters", code: "invalid_product")
        }
        guard !input.name.trimmingCharacters(in: .whitespaces).isEmpty else {
            throw APIError.badRequest("the product's name is empty", code: "invalid_product")
        }
        let product = Product(id: id, name: input.name, description: input.description ?? "", category: input.category,
                              categoryName: input.categoryName, market: input.market?.lowercased(), source: "api",
                              extra: input.extra ?? [:])
        return (product, images)
    }
}
