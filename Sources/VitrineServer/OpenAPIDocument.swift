import Foundation
import VitrineEngine

/// The OpenAPI 3.1 description of the API, built here beside the routes it describes (a test
/// checks that both list the same operations, and that real responses match the schemas).
public enum OpenAPIDocument {
    /// The document as a value (of a server with a reranker).
    public static let document = described(reranking: true)

    /// The document of a server without a reranker: `rerank` may only be false there (true
    /// answers 400), so the document says so.
    public static let withoutReranker = described(reranking: false)

    static func described(reranking: Bool) -> JSONValue { [
        "openapi": "3.1.0",
        "info": [
            "title": "Vitrine",
            "version": "1.0.0",
            "description": "Self-hosted fashion image search: search a product catalog by text, by an example photo, or for products like one you have. Errors always have the body {\"error\": {\"code\", \"message\"}}.",
        ],
        "paths": .object(paths(reranking: reranking)),
        "components": [
            "schemas": .object(schemas),
            "securitySchemes": ["bearer": ["type": "http", "scheme": "bearer", "description": "An API key from VITRINE_API_KEYS or the config file's api.keys."]],
        ],
    ] }

    /// The document as served at `/openapi.json` by a server with a reranker.
    public static let json: Data = encode(document)

    /// The document as served by a server without a reranker.
    public static let jsonWithoutReranker: Data = encode(withoutReranker)

    static func encode(_ value: JSONValue) -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return (try? encoder.encode(value)) ?? Data("{}".utf8)
    }

    /// Every (method, path) the document describes, methods in upper case.
    public static var operations: Set<String> {
        var result = Set<String>()
        for (path, item) in document["paths"]?.object ?? [:] {
            for method in (item.object ?? [:]).keys { result.insert("\(method.uppercased()) \(path)") }
        }
        return result
    }

    // MARK: Paths

    static func paths(reranking: Bool) -> [String: JSONValue] { [
        "/api/v1/search": ["get": operation(
            "searchText", tag: "search", summary: "Search products by text",
            description: "Finds products for a text query in one of four modes. `clip` (the default) encodes the query with the model's text tower and returns the products nearest to it (a product's best-matching image scores it); `score` is the cosine similarity. `text` encodes it with the text index's sentence model (all-MiniLM-L6-v2 by default) and returns the products whose name and description are nearest; `score` is the cosine similarity (400 when the data directory has no text index or the server no sentence model). `keyword` is full-text search over names and descriptions; `hybrid` fuses the keyword, text (where there is a text index) and CLIP rankings by Reciprocal Rank Fusion; in both, `score` is the fused score, the sum of weight / (60 + rank) over the retrievers that found the product, and `min_score` applies to it. `rerank=true` reorders the top 32 with the server's cross-encoder (`--reranker`) over each product's name and description; their `score` becomes the reranker's. `explain=true` adds each result's rank and score per retriever.",
            parameters: [query("q", "The text query (1 to \(SearchEngine.maxQueryLength) characters, not only whitespace).", ["type": "string", "minLength": 1, "maxLength": .number(Double(SearchEngine.maxQueryLength)), "pattern": "\\S"], required: true)]
                + pageParameters + textParameters(reranking: reranking),
            responses: ["200": json("A page of results.", ref("SearchResponse"))] + errors(400, 503))],
        "/api/v1/search/image": ["post": operation(
            "searchImage", tag: "search", summary: "Search products by an example photo",
            description: "Upload a JPEG, PNG or WebP photo as multipart/form-data (part `image`) or as the raw request body. At most 10 MB and 40 megapixels by default (`limits.uploadBytes`, `limits.pixels`).",
            parameters: pageParameters,
            requestBody: ["required": true, "content": [
                "multipart/form-data": ["schema": ["type": "object", "required": ["image"], "properties": ["image": ["type": "string", "contentMediaType": "application/octet-stream"]]]],
                "image/jpeg": ["schema": ["type": "string", "contentMediaType": "image/jpeg"]],
                "image/png": ["schema": ["type": "string", "contentMediaType": "image/png"]],
                "image/webp": ["schema": ["type": "string", "contentMediaType": "image/webp"]],
                "application/octet-stream": ["schema": ["type": "string", "contentMediaType": "application/octet-stream"]],
            ]],
            responses: ["200": json("A page of results.", ref("SearchResponse"))] + errors(400, 413, 422, 503))],
        "/api/v1/products/{id}/similar": ["get": operation(
            "similarProducts", tag: "search", summary: "Products like this one",
            description: "\"More like this\": the products whose images are nearest to the product's first image, the product itself left out.",
            parameters: [idParameter] + pageParameters,
            responses: ["200": json("A page of results.", ref("SearchResponse"))] + errors(400, 404, 503))],
        "/api/v1/products/{id}": [
            "get": operation(
                "getProduct", tag: "products", summary: "A product record",
                parameters: [idParameter],
                responses: ["200": json("The product.", ref("Product"))] + errors(400, 404, 503)),
            "put": operation(
                "replaceProduct", tag: "products", summary: "Replace a product",
                description: "Replaces the record and images of an existing product; images are stored and embedded on the way in.",
                parameters: [idParameter], requestBody: productWriteBody("ProductReplacement"), secured: true,
                responses: ["200": json("The stored product.", ref("Product"))] + errors(400, 401, 403, 404, 409, 413, 415, 422, 503)),
            "delete": operation(
                "deleteProduct", tag: "products", summary: "Delete a product",
                description: "Removes the product from the catalog and the index (its images stay in the image store until garbage collection).",
                parameters: [idParameter], secured: true,
                responses: ["204": ["description": "Deleted."]] + errors(400, 401, 403, 404, 409, 503)),
        ],
        "/api/v1/products": ["post": operation(
            "createProduct", tag: "products", summary: "Create a product",
            description: "Stores a new product: the record as the `product` part (JSON) and one or more `image` file parts, embedded on the way in.",
            requestBody: productWriteBody("ProductRecord"), secured: true,
            responses: ["201": json("The stored product.", ref("Product"), headers: ["Location": ["description": "The product's URL.", "schema": ["type": "string"]]])]
                + errors(400, 401, 403, 409, 413, 415, 422, 503))],
        "/api/v1/categories": ["get": operation(
            "listCategories", tag: "facets", summary: "Categories with product counts",
            responses: ["200": json("Most products first.", ["type": "array", "items": ref("FacetCount")])] + errors(503))],
        "/api/v1/markets": ["get": operation(
            "listMarkets", tag: "facets", summary: "Markets with product counts",
            responses: ["200": json("Most products first.", ["type": "array", "items": ref("FacetCount")])] + errors(503))],
        "/images/{key}": ["get": operation(
            "getImage", tag: "images", summary: "A product image, or its thumbnail",
            description: "Images are addressed by content (`<sha256>.<ext>`) and never change: responses carry the SHA-256 as ETag and may be cached forever; `If-None-Match` gives 304. With `w`, a PNG thumbnail that wide (at most the image's width), made once and kept.",
            parameters: [
                ["name": "key", "in": "path", "required": true, "description": "The image key, as in a result's `image` path.",
                 "schema": ["type": "string", "pattern": "^[0-9a-f]{64}\\.(jpg|png|webp|bin)$"]],
                query("w", "Thumbnail width in pixels.", ["type": "integer", "minimum": .number(Double(ThumbnailCache.widths.lowerBound)), "maximum": .number(Double(ThumbnailCache.widths.upperBound))]),
                ["name": "If-None-Match", "in": "header", "required": false, "description": "An ETag from an earlier response.", "schema": ["type": "string"]],
            ],
            responses: [
                "200": ["description": "The image bytes.", "headers": ["ETag": ["schema": ["type": "string"]], "Cache-Control": ["schema": ["type": "string"]]],
                        "content": ["image/jpeg": ["schema": ["type": "string"]], "image/png": ["schema": ["type": "string"]],
                                    "image/webp": ["schema": ["type": "string"]], "application/octet-stream": ["schema": ["type": "string"]]]],
                "304": ["description": "Not modified (the ETag matched)."],
            ] + errors(400, 404, 422, 503))],
        "/healthz": ["get": operation(
            "health", tag: "operations", summary: "Liveness", description: "200 while the process serves requests.",
            responses: ["200": json("Alive.", ref("Health"))])],
        "/readyz": ["get": operation(
            "readiness", tag: "operations", summary: "Readiness",
            description: "200 when the model's towers, the index and the catalog are loaded and the catalog and photo store answer; 503 with the same shape, the problems (naming the store that failed) and Retry-After otherwise.",
            responses: ["200": json("Ready.", ref("Readiness")), "503": json("Not ready.", ref("Readiness"))])],
        "/metrics": ["get": operation(
            "metrics", tag: "operations", summary: "Prometheus metrics",
            description: "Requests by route and status, latency histograms, encode latency, catalog and index sizes, data generation and last commit time.",
            responses: ["200": ["description": "Prometheus text format 0.0.4.", "content": ["text/plain": ["schema": ["type": "string"]]]]])],
        "/openapi.json": ["get": operation(
            "openAPI", tag: "operations", summary: "This document",
            responses: ["200": json("OpenAPI 3.1.", ["type": "object"])])],
        "/docs": ["get": operation(
            "docs", tag: "operations", summary: "The API's documentation page",
            responses: ["200": html("The operations, their parameters and response shapes, rendered from this document.")])],
        "/": ["get": operation(
            "home", tag: "web UI", summary: "The web interface",
            description: "The search page, rendered on the server: with `q` (text), `similar` (a product id) and the filters it shows that page of results, so it works without JavaScript. Bad input is shown on the page with the status the API would answer. The page's own files and its photo form (`/ui/...`) are not part of the API.",
            parameters: [
                query("q", "Words to search for (blank: the page asks for some).", ["type": "string", "maxLength": .number(Double(SearchEngine.maxQueryLength))]),
                query("similar", "A product id: \"more like this\" (ignored when q has words).", ["type": "string", "maxLength": 1024, "pattern": noNUL]),
                query("category", "Only this category (id or name, case-insensitive).", ["type": "string", "maxLength": 200, "pattern": noNUL]),
                query("market", "Only this market.", ["type": "string", "maxLength": 200, "pattern": noNUL]),
                query("page", "Page number, from 1.", ["type": "integer", "minimum": 1, "maximum": .number(Double(WebUIPage.maxPage)), "default": 1]),
                query("k", "Results per page.", ["type": "integer", "minimum": 1, "maximum": .number(Double(WebUIPage.maxPerPage)), "default": .number(Double(WebUIPage.defaultPerPage))]),
            ] + textParameters(reranking: reranking),
            responses: [
                "200": html("The page, with results when a search was asked for."),
                "400": html("The page, showing what is wrong with the input."),
                "404": html("The page, saying the product of a \"more like this\" search does not exist."),
                "503": html("The page, saying the server is busy or not ready."),
                "default": html("The page, showing the error."),
            ])],
    ] }

    // MARK: Schemas

    static let schemas: [String: JSONValue] = [
        "Error": object(["error": object(["code": ["type": "string", "description": "Stable machine-readable code, e.g. invalid_query, not_found, payload_too_large."],
                                          "message": ["type": "string", "description": "What was wrong, naming the input."]])]),
        "SearchResult": object([
            "id": ["type": "string"],
            "score": ["type": "number", "description": "The mode's score: cosine similarity of the product's best-matching image (clip, image and similar searches) or of its text (text), the fused score (keyword, hybrid), or the reranker's score."],
            "name": ["type": "string"],
            "category": ["type": ["string", "null"], "description": "Category name, or id when the catalog has no name."],
            "market": ["type": ["string", "null"]],
            "image": ["type": "string", "description": "Path of the best-matching image: /images/{key}."],
            "explain": ref("Explanation"),
        ], optional: ["category", "market", "explain"]),
        "Explanation": object([
            "retrievers": object(Dictionary(uniqueKeysWithValues: Retriever.allCases.map { ($0.rawValue, ref("RetrieverHit")) }),
                                 optional: Set(Retriever.allCases.map(\.rawValue))),
            "fused": ["type": "number", "description": "The fused score: Σ weight / (60 + rank)."],
            "rerank": ["type": "number", "description": "The reranker's score, when it reranked this result."],
        ], optional: ["rerank"]),
        "RetrieverHit": object([
            "rank": ["type": "integer", "minimum": 1, "description": "1-based rank in that retriever's ranking."],
            "score": ["type": "number", "description": "The retriever's own score (clip and text: cosine similarity)."],
        ], optional: ["score"]),
        "SearchResponse": object([
            "query": ["type": "string", "description": "The text query, or image:WxH, or similar:ID."],
            "truncated": ["type": "boolean", "description": "Whether the text query was cut to the model's token limit (77 for CLIP)."],
            "offset": ["type": "integer"],
            "results": ["type": "array", "items": ref("SearchResult")],
            "understood": ref("Understood"),
        ], optional: ["understood"]),
        "Understood": object([
            "query": ["type": "string", "description": "The words searched (with colours and materials added when the query text lacks them)."],
            "category": ["type": "string", "description": "A category id of the catalog; the request's own category wins."],
            "category_name": ["type": "string"],
            "market": ["type": "string", "description": "A market of the catalog; the request's own market wins."],
            "colors": ["type": "array", "items": ["type": "string"]],
            "materials": ["type": "array", "items": ["type": "string"]],
            "exclude": ["type": "array", "items": ["type": "string"], "description": "Words no result mentions."],
            "source": ["type": "string", "enum": ["llm", "cache", "fallback"], "description": "fallback: the query was searched as typed."],
            "reason": ["type": "string", "description": "Why it fell back: timeout, http_error, unreachable, invalid, too_long."],
            "dropped": ["type": "array", "items": ["type": "string"], "description": "What the LLM answered that was not used (values the catalog lacks, wrong types)."],
        ], optional: ["category", "category_name", "market", "reason"]),
        "ProductImage": object([
            "id": ["type": "string"], "url": ["type": "string", "description": "/images/{key}"],
            "width": ["type": "integer"], "height": ["type": "integer"],
        ]),
        "Product": object([
            "id": ["type": "string"], "name": ["type": "string"], "description": ["type": "string"],
            "category": ["type": ["string", "null"]], "category_name": ["type": ["string", "null"]], "market": ["type": ["string", "null"]],
            "source": ["type": "string"], "extra": ["type": "object", "additionalProperties": ["type": "string"]],
            "images": ["type": "array", "items": ref("ProductImage")],
        ], optional: ["category", "category_name", "market"]),
        "ProductRecord": object(recordFields.merging(
            ["id": ["type": "string", "minLength": 1, "maxLength": 1024, "pattern": noNUL, "description": "The new product's id."]]) { a, _ in a },
            optional: ["description", "category", "category_name", "market", "extra"]),
        // PUT takes its id from the path; the server tolerates the same id in the record, refuses another.
        "ProductReplacement": object(recordFields, optional: ["description", "category", "category_name", "market", "extra"]),
        "FacetCount": object([
            "value": ["type": "string", "description": "Category id or market code (what the filters take)."],
            "name": ["type": ["string", "null"], "description": "Category name; absent for markets."],
            "count": ["type": "integer"],
        ], optional: ["name"]),
        "Health": object(["status": ["type": "string"]]),
        "Readiness": object([
            "ready": ["type": "boolean"], "model": ["type": ["string", "null"]],
            "query_model": ["type": "string", "description": "The text tower text queries go through in place of the model's own (--query-model), when there is one."],
            "precision": object([
                "photos": ["type": "string", "description": "fp32, bf16 or int8: the image tower's (the data directory's unless --precision says otherwise)."],
                "queries": ["type": "string", "description": "The text tower's: without --precision, the fastest keeping the calibration queries within cosine 0.999 of fp32."],
                "queries_min_cosine": ["type": "number", "description": "That lowest cosine, when the server chose."],
            ], optional: ["queries_min_cosine"]),
            "products": ["type": "integer"],
            "vectors": ["type": "integer"], "generation": ["type": "integer"], "problems": ["type": "array", "items": ["type": "string"]],
            "backends": object(["catalog": ref("StoreBackend"), "blobs": ref("StoreBackend"), "vectors": ref("StoreBackend")]),
        ], optional: ["model", "query_model"]),
        "StoreBackend": object([
            "kind": ["type": "string", "description": "sqlite or postgres (catalog), files or s3 (photos), embedded (index)."],
            "location": ["type": "string", "description": "A path, or a URL without credentials."],
        ]),
    ]

    // MARK: Building blocks

    static let pageParameters: [JSONValue] = [
        query("k", "Results per page.", ["type": "integer", "minimum": 1, "maximum": .number(Double(SearchPage.maxK)), "default": 10]),
        query("offset", "Results to skip (paging).", ["type": "integer", "minimum": 0, "maximum": .number(Double(SearchPage.maxOffset)), "default": 0]),
        query("category", "Only this category (id or name, case-insensitive).", ["type": "string", "maxLength": 200, "pattern": noNUL]),
        query("market", "Only this market (e.g. cz).", ["type": "string", "maxLength": 200, "pattern": noNUL]),
        query("min_score", "Drop results with a lower cosine similarity.", ["type": "number", "minimum": -1, "maximum": 1]),
        query("exclude", "Comma-separated words (at most 8, of at most 40 characters) no result may mention in its name or description (a word starting with one, case and accents folded).",
              ["type": "string", "maxLength": 327, "pattern": "^[^,\\u0000]{0,40}(,[^,\\u0000]{0,40}){0,7}$"]),
    ]

    /// A text search's `mode`, `explain` and `rerank` (false only on a server without a reranker).
    static func textParameters(reranking: Bool) -> [JSONValue] { [
        query("mode", "How the query finds products.", ["type": "string", "enum": .array(SearchMode.allCases.map { .string($0.rawValue) }), "default": "clip"]),
        query("explain", "Add each result's rank and score per retriever.", ["type": "boolean", "default": false]),
        query("understand", "On a server with an LLM (llm.url): read the query into words and filters first (the default there), returned as understood. False searches the words as typed.",
              ["type": "boolean"]),
        reranking
            ? query("rerank", "Rerank the top of the results with the server's cross-encoder.", ["type": "boolean", "default": false])
            : query("rerank", "This server has no reranker (it was started without --reranker): only false is accepted.",
                    ["type": "boolean", "enum": [false], "default": false]),
    ] }

    static let idParameter: JSONValue = [
        "name": "id", "in": "path", "required": true, "description": "The product id (percent-encoded).",
        "schema": ["type": "string", "minLength": 1, "maxLength": 1024, "pattern": noNUL],
    ]

    /// Strings the server refuses when they hold a NUL character (ids, filters).
    static let noNUL: JSONValue = "^[^\\u0000]*$"

    static let recordFields: [String: JSONValue] = [
        "name": ["type": "string", "minLength": 1], "description": ["type": "string"], "category": ["type": "string"],
        "category_name": ["type": "string"], "market": ["type": "string"],
        "extra": ["type": "object", "additionalProperties": ["type": "string"]],
    ]

    static func productWriteBody(_ record: String) -> JSONValue { [
        "required": true,
        "content": ["multipart/form-data": [
            "schema": ["type": "object", "required": ["product", "image"], "properties": [
                "product": ref(record),
                "image": ["type": "array", "minItems": 1, "maxItems": .number(Double(ProductRoutes.maxImages)), "items": ["type": "string", "contentMediaType": "application/octet-stream"]],
            ]],
            "encoding": ["product": ["contentType": "application/json"]],
        ]],
    ] }

    static func operation(_ id: String, tag: String, summary: String, description: String? = nil, parameters: [JSONValue] = [],
                          requestBody: JSONValue? = nil, secured: Bool = false, responses: [String: JSONValue]) -> JSONValue {
        var members: [String: JSONValue] = ["operationId": .string(id), "tags": [.string(tag)], "summary": .string(summary), "responses": .object(responses)]
        if let description { members["description"] = .string(description) }
        if !parameters.isEmpty { members["parameters"] = .array(parameters) }
        if let requestBody { members["requestBody"] = requestBody }
        if secured { members["security"] = [["bearer": []]] }
        return .object(members)
    }

    static func query(_ name: String, _ description: String, _ schema: JSONValue, required: Bool = false) -> JSONValue {
        ["name": .string(name), "in": "query", "required": .bool(required), "description": .string(description), "schema": schema]
    }

    static func ref(_ name: String) -> JSONValue { ["$ref": .string("#/components/schemas/\(name)")] }

    static func json(_ description: String, _ schema: JSONValue, headers: JSONValue? = nil) -> JSONValue {
        var members: [String: JSONValue] = ["description": .string(description), "content": ["application/json": ["schema": schema]]]
        if let headers { members["headers"] = headers }
        return .object(members)
    }

    static func html(_ description: String) -> JSONValue {
        ["description": .string(description), "content": ["text/html": ["schema": ["type": "string"]]]]
    }

    /// Error responses by status (each with the error shape), plus `default` for the rest.
    static func errors(_ statuses: Int...) -> [String: JSONValue] {
        let descriptions = [
            400: "Bad input (the message says which).", 401: "Missing or invalid API key.", 403: "Writes are disabled (no API keys configured).",
            404: "Not found.", 409: "Conflict: the product exists, or another process holds the data directory's writer lock.",
            413: "The upload is too large (bytes or pixels).", 415: "Unsupported content type.",
            422: "The image or record cannot be used (not an image, corrupt, refused).", 503: "Busy, timed out, or not ready.",
        ]
        var result: [String: JSONValue] = ["default": json("Unexpected error.", ref("Error"))]
        for status in statuses { result[String(status)] = json(descriptions[status] ?? "Error.", ref("Error")) }
        return result
    }

    /// An object schema whose properties are all required except `optional`, and no others allowed.
    static func object(_ properties: [String: JSONValue], optional: Set<String> = []) -> JSONValue {
        let required = properties.keys.filter { !optional.contains($0) }.sorted().map { JSONValue.string($0) }
        return ["type": "object", "properties": .object(properties), "required": .array(required), "additionalProperties": false]
    }
}

extension Dictionary where Key == String, Value == JSONValue {
    static func + (a: Self, b: Self) -> Self { a.merging(b) { first, _ in first } }
}
