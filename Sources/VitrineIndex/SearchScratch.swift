import Foundation

/// A (distance, id) pair, the element of the search heaps.
struct Candidate {
    var distance: Float
    var id: UInt32
}

/// Which candidate a heap keeps on top (a type parameter, so the comparison is resolved at
/// compile time in the search loop).
protocol HeapOrder {
    static func above(_ a: Candidate, _ b: Candidate) -> Bool
}

/// Closest on top: graph search's frontier.
enum ClosestFirst: HeapOrder {
    @inline(__always) static func above(_ a: Candidate, _ b: Candidate) -> Bool { a.distance < b.distance }
}

/// Farthest on top: the result set, trimmed to `ef` by popping.
enum FarthestFirst: HeapOrder {
    @inline(__always) static func above(_ a: Candidate, _ b: Candidate) -> Bool { a.distance > b.distance }
}

/// A binary heap of candidates in growable storage it owns (freed by `deallocate`).
struct CandidateHeap<Order: HeapOrder> {
    private(set) var storage: UnsafeMutablePointer<Candidate>
    private(set) var capacity: Int
    private(set) var count = 0
    init(capacity: Int) {
        self.capacity = max(capacity, 16)
        storage = .allocate(capacity: self.capacity)
    }

    func deallocate() { storage.deallocate() }

    @inline(__always) var isEmpty: Bool { count == 0 }
    @inline(__always) var top: Candidate { storage[0] }
    @inline(__always) mutating func removeAll() { count = 0 }

    @inline(__always)
    private func above(_ a: Candidate, _ b: Candidate) -> Bool { Order.above(a, b) }

    @inline(__always)
    mutating func push(_ c: Candidate) {
        if count == capacity { grow() }
        var i = count
        count += 1
        while i > 0 {
            let parent = (i - 1) >> 1
            guard above(c, storage[parent]) else { break }
            storage[i] = storage[parent]
            i = parent
        }
        storage[i] = c
    }

    @inline(__always)
    @discardableResult
    mutating func pop() -> Candidate {
        let result = storage[0]
        count -= 1
        guard count > 0 else { return result }
        let last = storage[count]
        var i = 0
        while true {
            var child = 2 * i + 1
            if child >= count { break }
            if child + 1 < count && above(storage[child + 1], storage[child]) { child += 1 }
            guard above(storage[child], last) else { break }
            storage[i] = storage[child]
            i = child
        }
        storage[i] = last
        return result
    }

    private mutating func grow() {
        let bigger = UnsafeMutablePointer<Candidate>.allocate(capacity: capacity * 2)
        bigger.update(from: storage, count: count)
        storage.deallocate()
        storage = bigger
        capacity *= 2
    }

    /// The elements in heap order (unsorted).
    var elements: UnsafeBufferPointer<Candidate> { UnsafeBufferPointer(start: storage, count: count) }
}

/// Everything one search needs, allocated once and reused: the visited marks (an epoch per node,
/// so clearing is one increment instead of a memset), both heaps and gather buffers.
final class SearchScratch {
    private(set) var visited: UnsafeMutablePointer<UInt16>
    private(set) var visitedCapacity: Int
    private(set) var epoch: UInt16 = 0
    var frontier = CandidateHeap<ClosestFirst>(capacity: 256)
    var results = CandidateHeap<FarthestFirst>(capacity: 256)
    /// Ids gathered for one batched distance call, and their distances.
    let gathered: UnsafeMutablePointer<UInt32>
    let distances: UnsafeMutablePointer<Float>
    let gatherCapacity: Int
    /// A copy of one neighbour list, taken under the node's lock during construction.
    let neighbours: UnsafeMutablePointer<UInt32>

    init(nodes: Int, maxNeighbours: Int) {
        visitedCapacity = max(nodes, 1)
        visited = LargeBuffer.allocate(UInt16.self, count: visitedCapacity)
        visited.initialize(repeating: 0, count: visitedCapacity)
        // Two-hop filtered expansion gathers up to maxNeighbours² ids.
        gatherCapacity = maxNeighbours * (maxNeighbours + 1)
        gathered = .allocate(capacity: gatherCapacity)
        distances = .allocate(capacity: gatherCapacity)
        neighbours = .allocate(capacity: maxNeighbours + 1)
    }

    deinit {
        LargeBuffer.free(visited)
        frontier.deallocate()
        results.deallocate()
        gathered.deallocate()
        distances.deallocate()
        neighbours.deallocate()
    }

    /// Starts a new search over `nodes` nodes: a fresh epoch, empty heaps.
    @inline(__always)
    func begin(nodes: Int) {
        if nodes > visitedCapacity {
            LargeBuffer.free(visited)
            visitedCapacity = max(nodes, visitedCapacity * 2)
            visited = LargeBuffer.allocate(UInt16.self, count: visitedCapacity)
            visited.initialize(repeating: 0, count: visitedCapacity)
            epoch = 0
        }
        if epoch == UInt16.max {
            visited.update(repeating: 0, count: visitedCapacity)
            epoch = 0
        }
        epoch &+= 1
        frontier.removeAll()
        results.removeAll()
    }

    /// Marks `id` visited; returns whether it was new.
    @inline(__always)
    func visit(_ id: UInt32) -> Bool {
        let slot = visited + Int(id)
        if slot.pointee == epoch { return false }
        slot.pointee = epoch
        return true
    }
}

/// A pool of scratch spaces so concurrent searches never allocate on the hot path.
final class ScratchPool: @unchecked Sendable {
    private let lock = NSLock()
    private var free: [SearchScratch] = []
    private let maxNeighbours: Int

    init(maxNeighbours: Int) { self.maxNeighbours = maxNeighbours }

    func withScratch<T>(nodes: Int, _ body: (SearchScratch) throws -> T) rethrows -> T {
        lock.lock()
        let scratch = free.popLast() ?? SearchScratch(nodes: nodes, maxNeighbours: maxNeighbours)
        lock.unlock()
        defer {
            lock.lock()
            free.append(scratch)
            lock.unlock()
        }
        return try body(scratch)
    }
}
