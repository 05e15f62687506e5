/// A set of internal ids as bits: the live set, attribute posting lists and filter results.
/// Intersections are word-wise ANDs, so a filter over a million vectors costs a few microseconds
/// per attribute value.
struct Bitset: Equatable, Sendable {
    private(set) var words: [UInt64]

    init(capacity: Int = 0) {
        words = [UInt64](repeating: 0, count: (capacity + 63) / 64)
    }

    init(words: [UInt64]) { self.words = words }

    /// Number of ids the words can hold.
    var capacity: Int { words.count * 64 }

    @inline(__always)
    func contains(_ id: Int) -> Bool {
        let w = id >> 6
        return w < words.count && words[w] & (1 << UInt64(id & 63)) != 0
    }

    mutating func insert(_ id: Int) {
        let w = id >> 6
        if w >= words.count { words.append(contentsOf: repeatElement(0, count: max(w + 1 - words.count, words.count / 2))) }
        words[w] |= 1 << UInt64(id & 63)
    }

    mutating func remove(_ id: Int) {
        let w = id >> 6
        if w < words.count { words[w] &= ~(1 << UInt64(id & 63)) }
    }

    /// Number of ids in the set.
    var count: Int { words.reduce(0) { $0 + $1.nonzeroBitCount } }

    mutating func formIntersection(_ other: Bitset) {
        for i in words.indices { words[i] &= i < other.words.count ? other.words[i] : 0 }
    }

    mutating func formUnion(_ other: Bitset) {
        if other.words.count > words.count {
            words.append(contentsOf: repeatElement(0, count: other.words.count - words.count))
        }
        for i in other.words.indices { words[i] |= other.words[i] }
    }

    /// Calls `body` with every id in increasing order.
    func forEach(_ body: (Int) throws -> Void) rethrows {
        for (w, word) in words.enumerated() where word != 0 {
            var bits = word
            while bits != 0 {
                try body(w << 6 | bits.trailingZeroBitCount)
                bits &= bits - 1
            }
        }
    }
}
