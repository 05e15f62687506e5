import Foundation
import VitrineCatalog

/// A product as the API returns it: the catalog record with its images' URLs.
struct ProductResponse: Codable, Equatable {
    struct Image: Codable, Equatable {
        var id: String
        /// `/images/{key}`; add `?w=256` for a thumbnail.
        var url: String
        var width: Int
        var height: Int
    }

    var id: String
    var name: String
    var description: String
    var category: String?
    var categoryName: String?
    var market: String?
    var source: String
    var extra: [String: String]
    var images: [Image]

    enum CodingKeys: String, CodingKey {
        case id, name, description, category, categoryName = "category_name", market, source, extra, images
    }

    init(_ product: Product) {
        id = product.id
        name = product.name
        description = product.description
        category = product.category
        categoryName = product.categoryName
        market = product.market
        source = product.source
        extra = product.extra
        images = product.images.map { Image(id: $0.id, url: "/images/\($0.key)", width: $0.width, height: $0.height) }
    }
}

/// The record part of a product write (`product` part of the multipart body): what a client
/// may set. Images come as the form's file parts; `source` is always `api`.
struct ProductInput: Codable {
    var id: String?
    var name: String
    var description: String?
    var category: String?
    var categoryName: String?
    var market: String?
    var extra: [String: String]?

    enum CodingKeys: String, CodingKey {
        case id, name, description, category, categoryName = "category_name", market, extra
    }
}

/// `/healthz`'s answer.
struct HealthResponse: Codable, Equatable {
    var status: String
}
