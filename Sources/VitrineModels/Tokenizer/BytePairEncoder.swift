import Synchronization

/// Byte-pair encoding of one pre-tokenized piece into vocabulary ids.
///
/// A piece starts as one symbol per UTF-8 byte, spelled in the ``ByteLevelAlphabet``; the last
/// symbol carries the end-of-word suffix `</w>`. Then, repeatedly, the adjacent pair with the best
/// (lowest) merge rank is replaced by its merged token, the leftmost one when the same pair occurs
/// more than once, until no adjacent pair has a merge rule. This is the order in which the
/// `tokenizers` library merges, so the result is the same token for token.
///
/// Symbols are vocabulary ids from the start, so a merge is a table lookup on two integers.
/// A symbol missing from the vocabulary becomes the unknown-token id, as in the reference.
struct BytePairEncoder: Sendable {
    /// `(rank << 32) | mergedID` for each `(leftID << 32) | rightID` that has a merge rule.
    private let rules: [UInt64: UInt64]
    /// The id of each byte as a symbol inside a word, and as the last symbol (with `</w>`).
    private let innerByteIDs: [Int32]
    private let finalByteIDs: [Int32]
    private let cache = PieceCache()

    static let endOfWordSuffix = "</w>"

    init(vocabulary: [String: Int32], merges: [VocabularyFiles.MergeLine], mergesPath: String, unknownID: Int32)
        throws(TokenizerError)
    {
        innerByteIDs = (0...255).map { vocabulary[ByteLevelAlphabet.token(for: UInt8($0))] ?? unknownID }
        finalByteIDs = (0...255).map {
            vocabulary[ByteLevelAlphabet.token(for: UInt8($0), suffix: Self.endOfWordSuffix)] ?? unknownID
        }

        var rules: [UInt64: UInt64] = [:]
        rules.reserveCapacity(merges.count)
        for (rank, merge) in merges.enumerated() {
            func id(_ token: String) throws(TokenizerError) -> Int32 {
                guard let id = vocabulary[token] else {
                    throw .unknownMergeToken(path: mergesPath, line: merge.line, token: token)
                }
                return id
            }
            let left = try id(merge.left), right = try id(merge.right)
            let merged = try id(merge.left + merge.right)
            // A repeated pair keeps its last rank, as the reference's map insertion does.
            rules[Self.pairKey(left, right)] = UInt64(rank) << 32 | UInt64(UInt32(merged))
        }
        self.rules = rules
    }

    /// Appends the ids of `piece`, given as UTF-8 bytes, to `output`.
    func encode(_ piece: [UInt8], into output: inout [Int32]) {
        guard !piece.isEmpty else { return }
        if let cached = cache[piece] {
            output.append(contentsOf: cached)
            return
        }
        let ids = merge(piece)
        cache[piece] = ids
        output.append(contentsOf: ids)
    }

    private func merge(_ piece: [UInt8]) -> [Int32] {
        let count = piece.count
        var ids = piece.map { innerByteIDs[Int($0)] }
        ids[count - 1] = finalByteIDs[Int(piece[count - 1])]
        guard count > 1 else { return ids }

        // A doubly linked list over the original positions: a merge keeps the left position and
        // unlinks the right one, so positions keep their left-to-right order for tie-breaking.
        let removed: Int32 = -1
        var next = (0..<count).map { $0 + 1 }
        var previous = (0..<count).map { $0 - 1 }
        next[count - 1] = -1

        var queue = MergeQueue()
        for position in 0..<(count - 1) {
            if let rule = rule(ids[position], ids[position + 1]) {
                queue.push(rank: rule.rank, position: position, mergedID: rule.mergedID)
            }
        }
        while let candidate = queue.pop() {
            let position = candidate.position
            let right = next[position]
            // Entries go stale when a neighbour merged first; only a pair that still exists and
            // still yields the queued token may merge.
            guard ids[position] != removed, right != -1,
                  let rule = rule(ids[position], ids[right]), rule.mergedID == candidate.mergedID
            else { continue }

            ids[position] = rule.mergedID
            ids[right] = removed
            next[position] = next[right]
            if next[right] != -1 { previous[next[right]] = position }

            let before = previous[position]
            if before != -1, let rule = self.rule(ids[before], ids[position]) {
                queue.push(rank: rule.rank, position: before, mergedID: rule.mergedID)
            }
            let after = next[position]
            if after != -1, let rule = self.rule(ids[position], ids[after]) {
                queue.push(rank: rule.rank, position: position, mergedID: rule.mergedID)
            }
        }
        return ids.filter { $0 != removed }
    }

    @inline(__always)
    private func rule(_ left: Int32, _ right: Int32) -> (rank: UInt32, mergedID: Int32)? {
        guard let packed = rules[Self.pairKey(left, right)] else { return nil }
        return (UInt32(truncatingIfNeeded: packed >> 32), Int32(truncatingIfNeeded: packed))
    }

    @inline(__always)
    private static func pairKey(_ left: Int32, _ right: Int32) -> UInt64 {
        UInt64(UInt32(bitPattern: left)) << 32 | UInt64(UInt32(bitPattern: right))
    }
}

/// A binary min-heap of pending merges, ordered by rank and then by position.
private struct MergeQueue {
    struct Entry {
        /// `(rank << 32) | position`, so one integer comparison orders by rank, then position.
        var key: UInt64
        var mergedID: Int32
        var position: Int { Int(UInt32(truncatingIfNeeded: key)) }
    }

    private var heap: [Entry] = []

    mutating func push(rank: UInt32, position: Int, mergedID: Int32) {
        heap.append(Entry(key: UInt64(rank) << 32 | UInt64(position), mergedID: mergedID))
        var child = heap.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard heap[child].key < heap[parent].key else { break }
            heap.swapAt(child, parent)
            child = parent
        }
    }

    mutating func pop() -> Entry? {
        guard let last = heap.popLast() else { return nil }
        guard !heap.isEmpty else { return last }
        let top = heap[0]
        heap[0] = last
        var parent = 0
        while true {
            let left = 2 * parent + 1, right = left + 1
            var smallest = parent
            if left < heap.count, heap[left].key < heap[smallest].key { smallest = left }
            if right < heap.count, heap[right].key < heap[smallest].key { smallest = right }
            guard smallest != parent else { break }
            heap.swapAt(parent, smallest)
            parent = smallest
        }
        return top
    }
}

/// Remembers the ids of recently seen pieces: queries repeat the same words all the time.
///
/// Bounded in entries and piece length so hostile input cannot grow it without limit; when full,
/// new pieces are simply not remembered.
private final class PieceCache: Sendable {
    private static let capacity = 10_000
    private static let longestPiece = 64

    private let entries = Mutex<[[UInt8]: [Int32]]>([:])

    subscript(piece: [UInt8]) -> [Int32]? {
        get {
            guard piece.count <= Self.longestPiece else { return nil }
            return entries.withLock { $0[piece] }
        }
        set {
            guard piece.count <= Self.longestPiece, let newValue else { return }
            entries.withLock { entries in
                if entries.count < Self.capacity { entries[piece] = newValue }
            }
        }
    }
}
