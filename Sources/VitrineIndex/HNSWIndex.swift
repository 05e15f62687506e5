import CVitrineIndex
import Foundation
import VitrineCore

/// The HNSW graph over dense internal ids, whose vectors live in a shared ``VectorSlab``.
///
/// Layout: every node has a fixed-size bottom-layer list `[count, n₀ … n_{M_max0−1}]` in one flat
/// array (no per-node allocation, one cache miss per expansion); nodes above the bottom layer own
/// one more block with `[count, n₀ … n_{M−1}]` per upper layer.
///
/// Concurrency: `search` may run on many threads at once, `insert` must not overlap a search (the
/// store's reader–writer lock ensures it). Inside `insert`, several threads link nodes in
/// parallel; they guard each neighbour list with a one-byte spin lock and hold at most one at a
/// time, and the entry point with `entryLock`.
final class HNSWIndex: @unchecked Sendable {
    let parameters: HNSWParameters
    let metric: Metric
    let vectors: VectorSlab
    var dimension: Int { vectors.dimension }

    let M: Int
    let maxM0: Int
    private let stride0: Int
    private let strideUpper: Int

    private(set) var capacity = 0
    /// Nodes with allocated slots (ids `0..<count`).
    private(set) var count = 0
    private(set) var levels: UnsafeMutablePointer<UInt8>
    private(set) var links0: UnsafeMutablePointer<UInt32>
    private(set) var upper: UnsafeMutablePointer<UnsafeMutablePointer<UInt32>?>
    private var locks: UnsafeMutablePointer<UInt8>

    static let noNode = UInt32.max
    /// Most candidates one filtered (two-hop) expansion gathers; tuned by benchmark.
    var twoHopExpansion: Int
    private(set) var entryPoint: UInt32 = HNSWIndex.noNode
    private(set) var maxLevel = -1
    private let entryLock = NSLock()
    private(set) var random: SplitMix64
    let scratch: ScratchPool

    init(vectors: VectorSlab, metric: Metric, parameters: HNSWParameters) {
        self.vectors = vectors
        self.metric = metric
        self.parameters = parameters
        M = parameters.M
        maxM0 = parameters.maxNeighboursLevel0
        stride0 = maxM0 + 1
        strideUpper = M + 1
        twoHopExpansion = parameters.maxNeighboursLevel0
        random = SplitMix64(seed: parameters.seed)
        scratch = ScratchPool(maxNeighbours: maxM0)
        levels = LargeBuffer.allocate(UInt8.self, count: 1)
        links0 = LargeBuffer.allocate(UInt32.self, count: 1)
        upper = LargeBuffer.allocate(UnsafeMutablePointer<UInt32>?.self, count: 1)
        locks = LargeBuffer.allocate(UInt8.self, count: 1)
    }

    deinit {
        for i in 0..<count { upper[i]?.deallocate() }
        LargeBuffer.free(levels)
        LargeBuffer.free(links0)
        LargeBuffer.free(upper)
        LargeBuffer.free(locks)
    }

    // MARK: Storage

    /// Grows every per-node array to hold `minimum` nodes. Exclusive access only.
    func reserve(_ minimum: Int) {
        guard minimum > capacity else { return }
        let newCapacity = max(minimum, capacity + capacity / 2, 1024)
        func grow<T>(_ old: UnsafeMutablePointer<T>, _ perNode: Int, _ zero: T) -> UnsafeMutablePointer<T> {
            let fresh = LargeBuffer.allocate(T.self, count: newCapacity * perNode)
            fresh.update(from: old, count: count * perNode)
            (fresh + count * perNode).initialize(repeating: zero, count: (newCapacity - count) * perNode)
            LargeBuffer.free(old)
            return fresh
        }
        levels = grow(levels, 1, 0)
        links0 = grow(links0, stride0, 0)
        upper = grow(upper, 1, nil)
        locks = grow(locks, 1, 0)
        capacity = newCapacity
    }

    @inline(__always)
    private func list(_ node: UInt32, level: Int) -> UnsafeMutablePointer<UInt32> {
        level == 0 ? links0 + Int(node) * stride0 : upper[Int(node)]! + (level - 1) * strideUpper
    }

    /// Draws a level with `P(level ≥ l) = exp(−l / mL)`.
    private func drawLevel() -> Int {
        let level = Int(-log(random.nextUnitInterval()) * parameters.levelMultiplier)
        return min(level, 30)
    }

    /// Bytes held by the graph (not the vectors).
    var memoryBytes: Int {
        var bytes = capacity * (1 + stride0 * 4 + 8 + 1)
        for i in 0..<count where levels[i] > 0 { bytes += Int(levels[i]) * strideUpper * 4 }
        return bytes
    }

    // MARK: Insertion

    /// Links the nodes `ids` (whose vectors are already rows of `vectors`; ids continue from
    /// `count`) into the graph, on up to `threads` threads.
    func insert(_ ids: Range<Int>, threads: Int) {
        precondition(ids.lowerBound == count, "graph ids are dense")
        guard !ids.isEmpty else { return }
        reserve(ids.upperBound)
        for id in ids {
            let level = drawLevel()
            levels[id] = UInt8(level)
            if level > 0 {
                let block = UnsafeMutablePointer<UInt32>.allocate(capacity: level * strideUpper)
                block.initialize(repeating: 0, count: level * strideUpper)
                upper[id] = block
            }
        }
        count = ids.upperBound
        let workers = max(1, min(threads, ids.count / 64, ProcessInfo.processInfo.activeProcessorCount))
        if workers == 1 {
            scratch.withScratch(nodes: count) { s in
                for id in ids { link(UInt32(id), s) }
            }
            return
        }
        var next = UInt64(ids.lowerBound)
        withUnsafeMutablePointer(to: &next) { counter in
            let shared = UnsafeTransfer(counter)
            DispatchQueue.concurrentPerform(iterations: workers) { _ in
                self.scratch.withScratch(nodes: self.count) { s in
                    while true {
                        let id = Int(vx_fetch_add(shared.value, 1))
                        if id >= ids.upperBound { break }
                        self.link(UInt32(id), s)
                    }
                }
            }
        }
    }

    /// Inserts one node: greedy descent to its level, then on each of its layers a beam search
    /// for `efConstruction` candidates, heuristic selection of `M` neighbours, and links both ways.
    private func link(_ q: UInt32, _ s: SearchScratch) {
        let level = Int(levels[Int(q)])
        let query = UnsafePointer(vectors.row(Int(q)))

        entryLock.lock()
        let entry = entryPoint
        let top = maxLevel
        if entry == Self.noNode {
            entryPoint = q
            maxLevel = level
            entryLock.unlock()
            return
        }
        // A node that raises the top level keeps the entry lock until it is linked, so no other
        // thread starts from an entry point whose layers are still empty.
        let raisesTop = level > top
        if !raisesTop { entryLock.unlock() }

        var current = Candidate(distance: distance(query, entry), id: entry)
        if top > level {
            for layer in stride(from: top, to: level, by: -1) {
                current = greedyClosest(query, from: current, layer: layer, locked: true, s)
            }
        }
        for layer in stride(from: min(level, top), through: 0, by: -1) {
            searchLayer(query, entry: current, ef: parameters.efConstruction, layer: layer,
                        locked: true, allowed: nil, twoHop: false, s)
            var found = sortedResults(s)
            found.removeAll { $0.id == q }
            guard let closest = found.first else { continue }
            let chosen = selectNeighbours(found, limit: M)
            setNeighbours(of: q, layer: layer, adding: chosen)
            let limit = layer == 0 ? maxM0 : M
            for neighbour in chosen {
                addLink(from: neighbour.id, to: q, distance: neighbour.distance, layer: layer, limit: limit)
            }
            current = closest
        }
        if raisesTop {
            entryPoint = q
            maxLevel = level
            entryLock.unlock()
        }
    }

    /// The paper's heuristic (algorithm 4): walk candidates from closest, keep one only if it is
    /// closer to the base than to every neighbour already kept. This spreads links across
    /// directions, which keeps clustered data navigable where "the M closest" would not.
    /// `candidates` are sorted by distance to the base.
    private func selectNeighbours(_ candidates: [Candidate], limit: Int) -> [Candidate] {
        guard candidates.count > limit else { return candidates }
        var kept: [Candidate] = []
        kept.reserveCapacity(limit)
        for c in candidates {
            let row = UnsafePointer(vectors.row(Int(c.id)))
            var diverse = true
            for k in kept where distance(row, k.id) < c.distance {
                diverse = false
                break
            }
            if diverse {
                kept.append(c)
                if kept.count == limit { break }
            }
        }
        return kept
    }

    /// Adds `chosen` to `node`'s list on `layer` (other threads may already have linked to it).
    private func setNeighbours(of node: UInt32, layer: Int, adding chosen: [Candidate]) {
        let limit = layer == 0 ? maxM0 : M
        let lock = locks + Int(node)
        vx_spin_lock(lock)
        defer { vx_spin_unlock(lock) }
        let l = list(node, level: layer)
        var n = Int(l[0])
        for c in chosen where n < limit {
            if !(0..<n).contains(where: { l[1 + $0] == c.id }) {
                l[1 + n] = c.id
                n += 1
            }
        }
        l[0] = UInt32(n)
    }

    /// Adds the reverse link `from → to`; a full list is re-selected with the heuristic over its
    /// members plus the newcomer.
    private func addLink(from node: UInt32, to newcomer: UInt32, distance d: Float, layer: Int, limit: Int) {
        let lock = locks + Int(node)
        vx_spin_lock(lock)
        defer { vx_spin_unlock(lock) }
        let l = list(node, level: layer)
        let n = Int(l[0])
        for j in 0..<n where l[1 + j] == newcomer { return }
        if n < limit {
            l[1 + n] = newcomer
            l[0] = UInt32(n + 1)
            return
        }
        let base = UnsafePointer(vectors.row(Int(node)))
        var candidates = [Candidate(distance: d, id: newcomer)]
        candidates.reserveCapacity(n + 1)
        for j in 0..<n {
            let id = l[1 + j]
            candidates.append(Candidate(distance: distance(base, id), id: id))
        }
        candidates.sort { $0.distance < $1.distance }
        let kept = selectNeighbours(candidates, limit: limit)
        for (j, c) in kept.enumerated() { l[1 + j] = c.id }
        l[0] = UInt32(kept.count)
    }

    // MARK: Search

    @inline(__always)
    private func distance(_ query: UnsafePointer<Float>, _ id: UInt32) -> Float {
        Distance.between(query, vectors.row(Int(id)), dimension: dimension, metric: metric)
    }

    /// Reads `node`'s list on `layer`: in place when no writer can touch it, else copied under
    /// the node's lock into the scratch buffer.
    @inline(__always)
    private func neighbours(_ node: UInt32, layer: Int, locked: Bool, _ s: SearchScratch) -> (UnsafePointer<UInt32>, Int) {
        let l = list(node, level: layer)
        guard locked else { return (UnsafePointer(l + 1), Int(l[0])) }
        let lock = locks + Int(node)
        vx_spin_lock(lock)
        let n = Int(l[0])
        s.neighbours.update(from: l + 1, count: n)
        vx_spin_unlock(lock)
        return (UnsafePointer(s.neighbours), n)
    }

    /// Greedy walk on one layer: move to the closest neighbour until none is closer.
    private func greedyClosest(_ query: UnsafePointer<Float>, from start: Candidate, layer: Int, locked: Bool,
                               _ s: SearchScratch) -> Candidate {
        var current = start
        var moved = true
        while moved {
            moved = false
            let (ids, n) = neighbours(current.id, layer: layer, locked: locked, s)
            guard n > 0 else { break }
            Distance.gather(query, base: vectors.base, dimension: dimension, metric: metric,
                            ids: ids, count: n, into: s.distances)
            for j in 0..<n where s.distances[j] < current.distance {
                current = Candidate(distance: s.distances[j], id: ids[j])
                moved = true
            }
        }
        return current
    }

    /// Beam search on one layer (the paper's algorithm 2). Leaves up to `ef` results in
    /// `s.results`. With `allowed`, only allowed nodes enter the results; the walk still crosses
    /// other nodes — directly, or with `twoHop` by looking through a disallowed neighbour at its
    /// own neighbours without computing its distance (as in ACORN), which keeps selective filters
    /// from paying for vectors they can never return.
    private func searchLayer(_ query: UnsafePointer<Float>, entry: Candidate, ef: Int, layer: Int, locked: Bool,
                             allowed: UnsafePointer<UInt64>?, allowedWords: Int = 0, twoHop: Bool,
                             _ s: SearchScratch) {
        @inline(__always) func isAllowed(_ id: UInt32) -> Bool {
            guard let allowed else { return true }
            let w = Int(id >> 6)
            return w < allowedWords && allowed[w] & (1 << UInt64(id & 63)) != 0
        }
        s.begin(nodes: count)
        // Locals instead of class properties in the loop: no exclusivity checks, no reloads.
        let visited = s.visited
        let epoch = s.epoch
        @inline(__always) func visit(_ id: UInt32) -> Bool {
            let slot = visited + Int(id)
            if slot.pointee == epoch { return false }
            slot.pointee = epoch
            return true
        }
        var frontier = s.frontier
        var results = s.results
        defer {
            s.frontier = frontier
            s.results = results
        }
        let gathered = s.gathered
        let distances = s.distances
        let twoHopLimit = min(s.gatherCapacity, twoHopExpansion)
        let base = UnsafePointer(vectors.base)
        let links0 = self.links0
        let stride0 = self.stride0

        _ = visit(entry.id)
        frontier.push(entry)
        if isAllowed(entry.id) { results.push(entry) }
        var bound = results.isEmpty ? Float.infinity : results.top.distance

        while !frontier.isEmpty {
            let c = frontier.top
            if c.distance > bound && results.count >= ef { break }
            frontier.pop()
            // The next expansion's list is likely the new top's: start fetching it now.
            if !frontier.isEmpty && layer == 0 { vx_prefetch(links0 + Int(frontier.top.id) * stride0) }
            let (ids, n) = neighbours(c.id, layer: layer, locked: locked, s)
            var g = 0
            if twoHop {
                // Allowed neighbours first, then allowed neighbours of the disallowed ones, up to
                // as many distances as an unfiltered expansion computes.
                for j in 0..<n {
                    let id = ids[j]
                    if isAllowed(id) {
                        if visit(id) { gathered[g] = id; g += 1 }
                    } else {
                        vx_prefetch(links0 + Int(id) * stride0)  // read in the second pass
                    }
                }
                var j = 0
                while j < n && g < twoHopLimit {
                    let id = ids[j]
                    j += 1
                    if isAllowed(id) || !visit(id) { continue }
                    let l2 = links0 + Int(id) * stride0
                    let n2 = Int(l2[0])
                    var t = 0
                    while t < n2 && g < twoHopLimit {
                        let id2 = l2[1 + t]
                        t += 1
                        if isAllowed(id2) && visit(id2) { gathered[g] = id2; g += 1 }
                    }
                }
            } else {
                for j in 0..<n {
                    let id = ids[j]
                    if visit(id) { gathered[g] = id; g += 1 }
                }
            }
            guard g > 0 else { continue }
            Distance.gather(query, base: base, dimension: dimension, metric: metric,
                            ids: gathered, count: g, into: distances)
            for j in 0..<g {
                let d = distances[j]
                guard results.count < ef || d < bound else { continue }
                let candidate = Candidate(distance: d, id: gathered[j])
                frontier.push(candidate)
                if twoHop || isAllowed(candidate.id) {
                    results.push(candidate)
                    if results.count > ef { results.pop() }
                    bound = results.top.distance
                }
            }
        }
    }

    /// Drains the result heap, closest first.
    private func sortedResults(_ s: SearchScratch) -> [Candidate] {
        var out = [Candidate](repeating: Candidate(distance: 0, id: 0), count: s.results.count)
        var i = out.count
        while !s.results.isEmpty {
            i -= 1
            out[i] = s.results.pop()
        }
        return out
    }

    /// The `k` nearest nodes to `query` among `allowed` (all when nil), closest first.
    /// `twoHop` selects the filtered walk for selective filters (see `searchLayer`).
    func search(_ query: UnsafePointer<Float>, k: Int, ef: Int, allowed: Bitset?, twoHop: Bool) -> [Candidate] {
        guard entryPoint != Self.noNode else { return [] }
        return scratch.withScratch(nodes: count) { s in
            var current = Candidate(distance: distance(query, entryPoint), id: entryPoint)
            if maxLevel > 0 {
                for layer in stride(from: maxLevel, to: 0, by: -1) {
                    current = greedyClosest(query, from: current, layer: layer, locked: false, s)
                }
            }
            let run = { (words: UnsafePointer<UInt64>?, count: Int) in
                self.searchLayer(query, entry: current, ef: max(ef, k), layer: 0, locked: false,
                                 allowed: words, allowedWords: count, twoHop: twoHop && words != nil, s)
            }
            if let allowed {
                allowed.words.withUnsafeBufferPointer { run($0.baseAddress, $0.count) }
            } else {
                run(nil, 0)
            }
            var found = sortedResults(s)
            if found.count > k { found.removeLast(found.count - k) }
            return found
        }
    }

    // MARK: Persistence support

    /// Restores the graph's state from a snapshot (arrays already filled through `reserve`).
    func restore(count: Int, entryPoint: UInt32, maxLevel: Int, random: SplitMix64) {
        self.count = count
        self.entryPoint = entryPoint
        self.maxLevel = maxLevel
        self.random = random
    }

    /// Allocates node `id`'s upper-layer block for a snapshot load.
    func allocateUpper(_ id: Int, level: Int) -> UnsafeMutablePointer<UInt32> {
        levels[id] = UInt8(level)
        let block = UnsafeMutablePointer<UInt32>.allocate(capacity: level * strideUpper)
        block.initialize(repeating: 0, count: level * strideUpper)
        upper[id] = block
        return block
    }

    var level0Stride: Int { stride0 }
    var upperStride: Int { strideUpper }
}
