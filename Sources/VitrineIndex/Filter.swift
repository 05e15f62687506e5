/// Which vectors a search may return: every condition must hold (AND); a condition on an
/// attribute holds when the vector's value is one of the listed values (OR).
///
/// ```swift
/// VectorFilter(["category": ["dress", "skirt"], "market": ["cz"]])
/// ```
/// A vector without the attribute never passes a condition on it.
public struct VectorFilter: Sendable, Equatable {
    public var conditions: [String: Set<String>]
    /// When set, only these products pass (e.g. "more like this" within a shortlist).
    public var products: Set<String>?

    public init(_ conditions: [String: Set<String>] = [:], products: Set<String>? = nil) {
        self.conditions = conditions
        self.products = products
    }

    /// A filter on one attribute.
    public static func attribute(_ name: String, in values: Set<String>) -> VectorFilter {
        VectorFilter([name: values])
    }
}

/// Attribute values of every internal id, with a posting bitset per (attribute, value) so a filter
/// becomes a few word-wise ORs and ANDs over internal ids.
///
/// Names and values are interned and each id's pairs live in one flat array (offsets per id),
/// so a million vectors with a few attributes each cost megabytes, not a dictionary apiece.
struct AttributeIndex: Sendable {
    private var names: [String] = []
    private var nameIds: [String: UInt32] = [:]
    private var texts: [String] = []
    private var textIds: [String: UInt32] = [:]
    /// (name id, value id) pairs of id `i` are `pairs[offsets[i] ..< offsets[i + 1]]`.
    private var pairs: [UInt32] = []
    private var offsets: [UInt32] = [0]
    /// postings[name id][value id] = ids with that value.
    private var postings: [UInt32: [UInt32: Bitset]] = [:]

    var count: Int { offsets.count - 1 }

    private static func intern(_ s: String, _ table: inout [String], _ ids: inout [String: UInt32]) -> UInt32 {
        if let id = ids[s] { return id }
        let id = UInt32(table.count)
        table.append(s)
        ids[s] = id
        return id
    }

    mutating func append(_ attributes: [String: String]) {
        let id = count
        for (name, value) in attributes.sorted(by: { $0.key < $1.key }) {
            let n = Self.intern(name, &names, &nameIds)
            let v = Self.intern(value, &texts, &textIds)
            pairs.append(n)
            pairs.append(v)
            postings[n, default: [:]][v, default: Bitset()].insert(id)
        }
        offsets.append(UInt32(pairs.count / 2))
    }

    /// The attributes of `id`.
    func values(of id: Int) -> [String: String] {
        var out: [String: String] = [:]
        for p in Int(offsets[id])..<Int(offsets[id + 1]) {
            out[names[Int(pairs[2 * p])]] = texts[Int(pairs[2 * p + 1])]
        }
        return out
    }

    /// Drops `id` from the postings (a tombstone keeps its values for the snapshot but is no longer
    /// selectable; the live set excludes it anyway).
    mutating func remove(_ id: Int) {
        for p in Int(offsets[id])..<Int(offsets[id + 1]) {
            postings[pairs[2 * p]]?[pairs[2 * p + 1]]?.remove(id)
        }
    }

    /// The ids that satisfy every condition of `filter`, intersected with `live`.
    func allowed(_ filter: VectorFilter, live: Bitset, productIds: (Set<String>) -> Bitset) -> Bitset {
        var result = live
        for (name, accepted) in filter.conditions.sorted(by: { $0.key < $1.key }) {
            var union = Bitset(capacity: live.capacity)
            if let n = nameIds[name], let byValue = postings[n] {
                for value in accepted {
                    if let v = textIds[value], let bits = byValue[v] { union.formUnion(bits) }
                }
            }
            result.formIntersection(union)
        }
        if let products = filter.products { result.formIntersection(productIds(products)) }
        return result
    }

    var memoryBytes: Int {
        pairs.capacity * 4 + offsets.capacity * 4
            + postings.values.reduce(0) { $0 + $1.values.reduce(0) { $0 + $1.words.count * 8 } }
    }
}
