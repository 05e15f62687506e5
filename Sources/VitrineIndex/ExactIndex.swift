import CVitrineIndex

/// Exact nearest-neighbour search: every candidate's distance, a bounded heap for the top `k`.
/// It is the baseline the graph's recall is measured against, and the fallback for filters so
/// selective that scanning the allowed vectors is cheaper than walking the graph.
enum ExactIndex {
    /// The `k` nearest rows of `vectors` to `query` among `allowed` (all rows `0..<vectors.count`
    /// when nil), closest first.
    static func search(_ query: UnsafePointer<Float>, k: Int, in vectors: VectorSlab, metric: Metric,
                       allowed: Bitset?) -> [Candidate] {
        guard k > 0 else { return [] }
        var heap = CandidateHeap<FarthestFirst>(capacity: k + 1)
        defer { heap.deallocate() }
        let chunk = 256
        let ids = UnsafeMutablePointer<UInt32>.allocate(capacity: chunk)
        let distances = UnsafeMutablePointer<Float>.allocate(capacity: chunk)
        defer {
            ids.deallocate()
            distances.deallocate()
        }
        func offer(_ count: Int) {
            for j in 0..<count {
                let d = distances[j]
                if heap.count < k {
                    heap.push(Candidate(distance: d, id: ids[j]))
                } else if d < heap.top.distance {
                    heap.pop()
                    heap.push(Candidate(distance: d, id: ids[j]))
                }
            }
        }
        if let allowed {
            var n = 0
            allowed.forEach { id in
                guard id < vectors.count else { return }
                ids[n] = UInt32(id)
                n += 1
                if n == chunk {
                    Distance.gather(query, base: vectors.base, dimension: vectors.dimension, metric: metric,
                                    ids: ids, count: n, into: distances)
                    offer(n)
                    n = 0
                }
            }
            if n > 0 {
                Distance.gather(query, base: vectors.base, dimension: vectors.dimension, metric: metric,
                                ids: ids, count: n, into: distances)
                offer(n)
            }
        } else {
            var start = 0
            while start < vectors.count {
                let n = min(chunk, vectors.count - start)
                vx_distances_rows(query, vectors.row(start), vectors.dimension, metric.kernel, n, distances)
                for j in 0..<n { ids[j] = UInt32(start + j) }
                offer(n)
                start += n
            }
        }
        var out = [Candidate](repeating: Candidate(distance: 0, id: 0), count: heap.count)
        var i = out.count
        while !heap.isEmpty {
            i -= 1
            out[i] = heap.pop()
        }
        return out
    }
}
