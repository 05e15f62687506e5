/// A product of the catalog: what a search result shows, and the unit ingest adds, updates and
/// removes. A product has one or more images; each has a vector in the index under
/// `(product id, image id)`.
public struct Product: Sendable, Equatable, Codable {
    /// The catalog id (GLAMI's `item_id`, a manifest's id column, a file path for folders).
    public var id: String
    public var name: String
    public var description: String
    /// Category id as the source names it (GLAMI's `category`), or nil.
    public var category: String?
    /// Human-readable category (GLAMI's `category_name`), or nil.
    public var categoryName: String?
    /// Market / language (GLAMI's `geo`: cz, sk, ...), or nil.
    public var market: String?
    /// Where the product came from (`glami`, `folder`, `manifest`, `fashion-mnist`, `api`, ...
    /// plus, for files, the source's path): `ingest --prune` removes only products of its source.
    public var source: String
    /// Free attributes of the source (GLAMI's `label_source`, a manifest's unmapped columns).
    public var extra: [String: String]
    /// The product's images in source order; the first is the one results show.
    public var images: [ProductImage]

    public init(
        id: String, name: String, description: String = "", category: String? = nil,
        categoryName: String? = nil, market: String? = nil, source: String,
        extra: [String: String] = [:], images: [ProductImage] = []
    ) {
        self.id = id
        self.name = name
        self.description = description
        self.category = category
        self.categoryName = categoryName
        self.market = market
        self.source = source
        self.extra = extra
        self.images = images
    }
}

/// One stored photo of a product.
public struct ProductImage: Sendable, Equatable, Codable {
    /// Id of the image within its product (GLAMI's `image_id`, or the position "0", "1", ...).
    public var id: String
    /// The blob store key of the image bytes (see ``BlobKey``).
    public var key: BlobKey
    /// Lowercase hex SHA-256 of the image bytes (the key's digest).
    public var sha256: String
    public var width: Int
    public var height: Int

    public init(id: String, key: BlobKey, width: Int, height: Int) {
        self.id = id
        self.key = key
        self.sha256 = key.sha256
        self.width = width
        self.height = height
    }
}
