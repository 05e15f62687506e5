import Foundation

/// Which manifest columns (CSV header names, or JSONL keys) hold which product field.
///
/// Loadable from a small JSON file (``load(from:)``):
/// ```json
/// {"id": "sku", "name": "title", "image_columns": ["front", "back"], "image_list_columns": ["gallery"]}
/// ```
/// Keys left out keep their defaults. Columns that are mapped to nothing go to ``Product/extra``.
public struct ManifestMapping: Sendable, Equatable, Codable {
    public var id: String
    public var name: String
    public var description: String
    public var category: String
    public var categoryName: String
    public var market: String
    /// Columns holding one image reference each (a path relative to the manifest, or an http(s)
    /// URL); each non-empty one is an image, in this order.
    public var imageColumns: [String]
    /// Columns holding a list of references: a JSON array in JSONL, or in CSV a `|`- or
    /// `;`-separated list (or a JSON array). Their images follow those of ``imageColumns``.
    public var imageListColumns: [String]

    public init(id: String = "id", name: String = "name", description: String = "description",
                category: String = "category", categoryName: String = "category_name", market: String = "market",
                imageColumns: [String] = ["image"], imageListColumns: [String] = ["images"]) {
        self.id = id
        self.name = name
        self.description = description
        self.category = category
        self.categoryName = categoryName
        self.market = market
        self.imageColumns = imageColumns
        self.imageListColumns = imageListColumns
    }

    enum CodingKeys: String, CodingKey {
        case id, name, description, category, market
        case categoryName = "category_name"
        case imageColumns = "image_columns"
        case imageListColumns = "image_list_columns"
    }

    public init(from decoder: any Decoder) throws {
        let defaults = ManifestMapping()
        let container = try decoder.container(keyedBy: CodingKeys.self)
        id = try container.decodeIfPresent(String.self, forKey: .id) ?? defaults.id
        name = try container.decodeIfPresent(String.self, forKey: .name) ?? defaults.name
        description = try container.decodeIfPresent(String.self, forKey: .description) ?? defaults.description
        category = try container.decodeIfPresent(String.self, forKey: .category) ?? defaults.category
        categoryName = try container.decodeIfPresent(String.self, forKey: .categoryName) ?? defaults.categoryName
        market = try container.decodeIfPresent(String.self, forKey: .market) ?? defaults.market
        imageColumns = try container.decodeIfPresent([String].self, forKey: .imageColumns) ?? defaults.imageColumns
        imageListColumns = try container.decodeIfPresent([String].self, forKey: .imageListColumns) ?? defaults.imageListColumns
    }

    /// Reads a mapping from a JSON file.
    /// - Throws: ``ReaderError`` naming the file and what is wrong with it.
    public static func load(from url: URL) throws -> ManifestMapping {
        let data = try readFile(url)
        do {
            return try JSONDecoder().decode(ManifestMapping.self, from: data)
        } catch let DecodingError.typeMismatch(_, context), let DecodingError.dataCorrupted(context) {
            let key = context.codingPath.map(\.stringValue).joined(separator: ".")
            throw ReaderError.invalidFormat(path: url.path, reason: "\(key.isEmpty ? "" : key + ": ")\(context.debugDescription)")
        } catch {
            throw ReaderError.invalidFormat(path: url.path, reason: String(describing: error))
        }
    }

    /// The mapped field names, which do not go to `extra`.
    var mappedColumns: Set<String> {
        Set([id, name, description, category, categoryName, market] + imageColumns + imageListColumns)
    }
}
