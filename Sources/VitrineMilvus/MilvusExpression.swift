import VitrineIndex

/// A Milvus boolean expression built from typed parts, never spliced from input: field names are
/// this module's constants, and every value goes through ``literal(_:)``, so a value such as
/// `x" or category != "` stays one string and cannot widen or break the filter.
struct MilvusExpression: Equatable, CustomStringConvertible {
    let description: String

    /// `field in ["a", "b"]` (false for no values: nothing passes).
    static func isIn(_ field: MilvusField, _ values: some Sequence<String>) -> MilvusExpression {
        let list = values.map(literal).sorted()
        if list.isEmpty { return MilvusExpression(description: "\(field.rawValue) in []") }
        if list.count == 1 { return MilvusExpression(description: "\(field.rawValue) == \(list[0])") }
        return MilvusExpression(description: "\(field.rawValue) in [\(list.joined(separator: ", "))]")
    }

    /// `field > "value"`, for walking keys in order.
    static func greater(_ field: MilvusField, than value: String) -> MilvusExpression {
        MilvusExpression(description: "\(field.rawValue) > \(literal(value))")
    }

    /// `field like "prefix%"` for a prefix of hex digits (the only prefixes this module asks for).
    static func hexPrefix(_ field: MilvusField, _ prefix: String) -> MilvusExpression {
        precondition(prefix.allSatisfy(\.isHexDigit))
        return MilvusExpression(description: "\(field.rawValue) like \"\(prefix)%\"")
    }

    /// Every part must hold; nil for no parts (no filter).
    static func all(_ parts: [MilvusExpression]) -> MilvusExpression? {
        switch parts.count {
        case 0: nil
        case 1: parts[0]
        default: MilvusExpression(description: parts.map { "(\($0.description))" }.joined(separator: " and "))
        }
    }

    /// The expression of a search filter: each attribute condition an `in` (any of its values),
    /// the product shortlist another, all joined by `and`. Attributes other than category and
    /// market have no field in the collection, so a condition on one is refused.
    static func filter(_ filter: VectorFilter?) throws -> MilvusExpression? {
        guard let filter else { return nil }
        var parts: [MilvusExpression] = []
        for (name, values) in filter.conditions.sorted(by: { $0.key < $1.key }) {
            guard let field = MilvusField.attribute(name) else {
                throw VectorIndexError.invalidArgument("Milvus collections filter on \(MilvusField.attributes.map(\.rawValue).joined(separator: " and ")), not on \"\(name)\"")
            }
            parts.append(isIn(field, values))
        }
        if let products = filter.products { parts.append(isIn(.product, products)) }
        return all(parts)
    }

    /// A double-quoted string literal of Milvus's expression grammar: backslash and quote escaped,
    /// line breaks and tabs as `\n`, `\r`, `\t` (a raw line break would end the literal),
    /// everything else as written. These are the escapes both Milvus (whose grammar takes any
    /// other character raw) and Milvus Lite (which knows no others, not `\u`) read alike.
    static func literal(_ value: String) -> String {
        var out = "\""
        for scalar in value.unicodeScalars {
            switch scalar {
            case "\\": out += "\\\\"
            case "\"": out += "\\\""
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }
}

/// The collection's fields.
enum MilvusField: String, CaseIterable {
    /// Primary key: hex SHA-256 of the product id, a NUL and the image id (fixed length, safe in
    /// any expression, unique per vector key).
    case key
    case product
    case image
    case category
    case market
    /// The store's sequence number of the batch that wrote the row.
    case sequence
    case vector

    /// Fields a filter may select on, by the attribute name the engine uses.
    static let attributes: [MilvusField] = [.category, .market]

    static func attribute(_ name: String) -> MilvusField? {
        attributes.first { $0.rawValue == name }
    }
}
