import Foundation
import HTTPTypes
import Hummingbird
import VitrineCatalog
import VitrineEngine

/// The web UI: the page at `/` (rendered with its results on the server), the photo form's
/// target for browsers without JavaScript, and the page's stylesheet and script.
///
/// `/` is described in the OpenAPI document (it takes query parameters, so the API fuzz run
/// exercises it); routes under `/ui/` are the UI's own plumbing and stay out of it.
struct WebUIRoutes {
    let service: SearchService
    let configuration: ServerConfiguration
    let assets: WebUIAssets

    /// The prefix of routes that are not API (see `OpenAPITests`).
    static let privatePrefix = "/ui/"

    func register(on router: Router<VitrineRequestContext>) {
        router.get("/") { request, _ in await page(request) }
        router.post("/ui/search-image") { request, _ in await imagePage(request) }
        router.get("/ui/{asset}") { request, context in try asset(request, context) }
    }

    // MARK: Pages

    /// `GET /?q=&mode=&rerank=&explain=&category=&market=&similar=&page=&k=`. Every failure is shown on the page, with
    /// the status the API would answer (400 bad input, 404 unknown product, 503 busy).
    func page(_ request: Request) async -> Response {
        var page = WebUIPage(assets: assets)
        page.canRerank = service.reranker != nil
        page.hasTextIndex = service.textEmbedder != nil && service.store.textIndex != nil
        let query = QueryParameters(request.uri)
        do {
            let q = try query.string("q")
            let filter = try query.filter()
            page.category = filter.category
            page.market = filter.market
            page.exclude = filter.exclude
            page.q = q ?? ""
            page.similar = try query.string("similar").flatMap { $0.isEmpty ? nil : $0 }
            page.perPage = try query.int("k", default: WebUIPage.defaultPerPage, in: 1...WebUIPage.maxPerPage)
            page.page = try query.int("page", default: 1, in: 1...WebUIPage.maxPage)
            page.text = try query.textOptions()
            // A typed query wins over a "more like this" view it was typed on.
            if q != nil && (page.similar == nil || !page.q.trimmingCharacters(in: .whitespaces).isEmpty) {
                page.mode = .text
            } else if page.similar != nil {
                page.mode = .similar
            }
        } catch {
            page.error = APIError(error)
        }
        await fillFacets(&page)
        if page.error == nil {
            do {
                try await search(&page)
            } catch {
                page.error = APIError(error)
            }
        }
        return respond(page)
    }

    func search(_ page: inout WebUIPage) async throws {
        let filter = SearchFilter(category: page.category, market: page.market, exclude: page.exclude)
        // One result more than shown tells whether a next page exists.
        let window = SearchPage(k: min(page.perPage + 1, SearchPage.maxK), offset: (page.page - 1) * page.perPage)
        switch page.mode {
        case .home:
            page.productCount = await service.probe(limit: OperationsRoutes.probeLimit).gauges.products
        case .text:
            // A blank query is a prompt, not an error: the page asks for words.
            guard !page.q.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else {
                page.error = APIError(.ok, code: "empty_query", "type what you are looking for, or search by photo")
                return
            }
            try SearchRoutes.checkLength(page.q)
            let response = try await service.search(text: page.q, filter: filter, page: window, options: page.text)
            page.truncated = response.truncated
            page.understood = response.understood
            take(response.results, into: &page)
        case .similar:
            let id = page.similar ?? ""
            guard id.unicodeScalars.count <= 1024, !id.contains("\0") else {
                throw APIError.badRequest("the product id is longer than 1024 characters or contains a NUL character")
            }
            page.similarProduct = try await service.product(id: id)
            take(try await service.similar(to: id, filter: filter, page: window).results, into: &page)
        case .image:
            break
        }
    }

    func take(_ results: [SearchResult], into page: inout WebUIPage) {
        page.hasNext = results.count > page.perPage
        page.results = Array(results.prefix(page.perPage))
    }

    /// Category and market options. A failure leaves the selects with "All" only: the search
    /// itself reports what is wrong.
    func fillFacets(_ page: inout WebUIPage) async {
        page.categories = (try? await service.categories()) ?? []
        page.markets = (try? await service.markets()) ?? []
    }

    /// `POST /ui/search-image`: the photo form without JavaScript (`multipart/form-data` with
    /// `image`, and optionally `category` and `market`). Shows the first page of results; paging
    /// photo results needs the script, which keeps the photo and posts it to the API again.
    func imagePage(_ request: Request) async -> Response {
        var page = WebUIPage(assets: assets)
        page.mode = .image
        do {
            let (image, form) = try await SearchRoutes.upload(request, limit: configuration.maxUploadBytes, timeout: configuration.requestTimeout)
            func field(_ name: String) -> String? {
                guard let part = form?.parts.first(where: { $0.name == name && $0.filename == nil }),
                      let text = String(data: part.body, encoding: .utf8)?.trimmingCharacters(in: .whitespacesAndNewlines),
                      !text.isEmpty, text.count <= 200, !text.contains("\0") else { return nil }
                return text
            }
            page.category = field("category")
            page.market = field("market")
            guard !image.isEmpty else {
                throw APIError(.unprocessableContent, code: "invalid_image", "choose a photo to search with")
            }
            let filter = SearchFilter(category: page.category, market: page.market, exclude: page.exclude)
            let response = try await service.search(image: image, filter: filter, page: SearchPage(k: page.perPage))
            page.results = response.results
        } catch {
            page.error = APIError(error)
        }
        await fillFacets(&page)
        return respond(page)
    }

    func respond(_ page: WebUIPage) -> Response {
        let status = page.error?.status ?? .ok
        var headers = Self.pageHeaders
        if let error = page.error { headers.append(contentsOf: error.headers) }
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(string: page.render().description)))
    }

    /// The page loads only its own script, stylesheet and images (`blob:` for the preview of a
    /// dropped photo): a defence in depth should catalog text ever slip through unescaped.
    static let pageHeaders: HTTPFields = [
        .contentType: "text/html; charset=utf-8",
        .contentSecurityPolicy: "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:; connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
        .xContentTypeOptions: "nosniff",
        .cacheControl: "no-cache",
        HTTPField.Name("Referrer-Policy")!: "same-origin",
    ]

    // MARK: Assets

    /// `GET /ui/vitrine.css` and `/ui/vitrine.js`. The page links them with their content hash
    /// as `?v=`, so they can be cached for good.
    func asset(_ request: Request, _ context: VitrineRequestContext) throws -> Response {
        let name = context.parameters.get("asset") ?? ""
        guard let asset = assets.files[name] else {
            throw APIError.notFound("no web UI file \"\(name.prefix(80))\"")
        }
        var headers: HTTPFields = [.eTag: asset.etag, .cacheControl: ImageRoutes.cacheControl, .xContentTypeOptions: "nosniff"]
        if let match = request.headers[.ifNoneMatch], ImageRoutes.matches(match, etag: asset.etag) {
            return Response(status: .notModified, headers: headers)
        }
        headers[.contentType] = asset.contentType
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: asset.text)))
    }
}
