import Foundation

/// How an index finds neighbours.
public enum IndexAlgorithm: Sendable, Equatable {
    /// Scan every vector: exact, linear in the collection.
    case exact
    /// Hierarchical navigable small world graph: approximate, logarithmic.
    case hnsw(HNSWParameters)
}

/// The in-memory index of keyed vectors: key ↔ dense internal id, vectors, attributes, the live
/// set (a replaced or deleted id is a tombstone: out of the live set, still a graph node so the
/// graph stays navigable) and the HNSW graph. ``EmbeddedVectorStore`` adds locking and files.
///
/// Not synchronized; the store serializes writers and excludes readers while it mutates.
final class MemoryIndex: @unchecked Sendable {
    let dimension: Int
    let metric: Metric
    let algorithm: IndexAlgorithm
    let vectors: VectorSlab
    let graph: HNSWIndex?

    /// Key of every internal id, tombstones included.
    private(set) var keys: [VectorKey] = []
    /// Internal id of every live key.
    private(set) var ids: [VectorKey: UInt32] = [:]
    private(set) var attributes = AttributeIndex()
    private(set) var live = Bitset()
    /// Sequence number of the last applied batch.
    var sequence: UInt64 = 0

    /// Filters allowing at most this fraction of the graph are answered by exact search over the
    /// allowed vectors (measured crossover, BENCHMARKS.md); also used below `exactBelow` nodes.
    var exactFilterFraction = 0.02
    var exactBelow = 1000
    /// Filters allowing less than this fraction walk the graph with two-hop expansion.
    var twoHopBelowFraction = 0.3

    init(dimension: Int, metric: Metric, algorithm: IndexAlgorithm, capacity: Int = 1024) {
        self.dimension = dimension
        self.metric = metric
        self.algorithm = algorithm
        vectors = VectorSlab(dimension: dimension, capacity: capacity)
        if case .hnsw(let parameters) = algorithm {
            graph = HNSWIndex(vectors: vectors, metric: metric, parameters: parameters)
            graph!.reserve(capacity)
        } else {
            graph = nil
        }
    }

    /// Number of internal ids (live and tombstones).
    var nodeCount: Int { keys.count }
    var liveCount: Int { ids.count }

    // MARK: Writes (validated vectors only)

    /// Inserts or replaces validated records (normalized here for cosine), linking new nodes on `threads` threads.
    func upsert(_ records: ArraySlice<VectorRecord>, threads: Int) {
        guard !records.isEmpty else { return }
        let first = nodeCount
        vectors.reserve(first + records.count)
        graph?.reserve(first + records.count)
        for record in records {
            let id = nodeCount
            record.vector.withUnsafeBufferPointer { _ = vectors.append($0.baseAddress!) }
            if metric == .cosine { Distance.normalize(vectors.row(id), dimension: dimension) }
            keys.append(record.key)
            attributes.append(record.attributes)
        }
        graph?.insert(first..<nodeCount, threads: threads)
        for (offset, record) in records.enumerated() {
            let id = first + offset
            if let old = ids[record.key] { tombstone(Int(old)) }
            ids[record.key] = UInt32(id)
            live.insert(id)
        }
    }

    /// Deletes keys; returns how many were live.
    @discardableResult
    func delete(_ keys: [VectorKey]) -> Int {
        var removed = 0
        for key in keys {
            guard let id = ids.removeValue(forKey: key) else { continue }
            tombstone(Int(id))
            removed += 1
        }
        return removed
    }

    private func tombstone(_ id: Int) {
        live.remove(id)
        attributes.remove(id)
    }

    // MARK: Reads

    func vector(for key: VectorKey) -> [Float]? {
        ids[key].map { vectors.vector(Int($0)) }
    }

    func configureRouting(_ configuration: VectorStoreConfiguration) {
        exactFilterFraction = configuration.filterExactFraction
        twoHopBelowFraction = configuration.filterTwoHopFraction
    }

    /// Which search path answers a filter allowing `allowed` of the nodes.
    enum Route: String, Sendable { case graph, graphTwoHop, exact }

    func route(allowedCount: Int, filtered: Bool) -> Route {
        guard graph != nil, nodeCount >= exactBelow else { return .exact }
        guard filtered else { return .graph }
        let fraction = Double(allowedCount) / Double(max(nodeCount, 1))
        if fraction <= exactFilterFraction { return .exact }
        return fraction < twoHopBelowFraction ? .graphTwoHop : .graph
    }

    /// The `k` nearest live vectors that pass `filter`; `query` is prepared (checked, normalized).
    func search(_ query: [Float], k: Int, filter: VectorFilter?, ef: Int? = nil) -> [SearchHit] {
        guard k > 0, liveCount > 0 else { return [] }
        let k = min(k, liveCount)  // more than exist cannot be found; keeps buffers bounded
        var allowed: Bitset?
        if let filter {
            allowed = attributes.allowed(filter, live: live) { products in
                var bits = Bitset(capacity: nodeCount)
                for (key, id) in ids where products.contains(key.product) { bits.insert(Int(id)) }
                return bits
            }
        } else if liveCount < nodeCount {
            allowed = live
        }
        let allowedCount = allowed?.count ?? nodeCount
        guard allowedCount > 0 else { return [] }
        let route = route(allowedCount: allowedCount, filtered: filter != nil)
        let found: [Candidate] = query.withUnsafeBufferPointer { q in
            switch route {
            case .exact:
                return ExactIndex.search(q.baseAddress!, k: k, in: vectors, metric: metric, allowed: allowed ?? live)
            case .graph, .graphTwoHop:
                let graph = graph!
                let found = graph.search(q.baseAddress!, k: k, ef: ef ?? graph.parameters.efSearch,
                                         allowed: allowed, twoHop: route == .graphTwoHop)
                // A filter can cut the walk off from the allowed region (e.g. one cluster, far from
                // the entry point). Fewer results than exist means exactly that: scan instead.
                if found.count < min(k, allowedCount) {
                    return ExactIndex.search(q.baseAddress!, k: k, in: vectors, metric: metric, allowed: allowed ?? live)
                }
                return found
            }
        }
        return found.map { SearchHit(key: keys[Int($0.id)], distance: $0.distance, metric: metric) }
    }

    /// Makes room for `capacity` vectors in all per-node arrays, so a bulk load does not regrow.
    func reserveCapacity(_ capacity: Int) {
        vectors.reserve(capacity)
        graph?.reserve(capacity)
    }

    /// Bytes held by vectors, graph, keys and attributes (an estimate for the last two).
    var memoryBytes: Int {
        var bytes = vectors.memoryBytes + (graph?.memoryBytes ?? 0)
        bytes += keys.capacity * MemoryLayout<VectorKey>.stride
        bytes += ids.capacity * (MemoryLayout<VectorKey>.stride + 4) * 4 / 3
        bytes += live.words.count * 8 + attributes.memoryBytes
        return bytes
    }

    // MARK: Snapshot support

    /// Appends a node read from a snapshot (vector already in `vectors`).
    func restoreNode(key: VectorKey, attributes values: [String: String]) {
        keys.append(key)
        attributes.append(values)
    }

    /// Installs the live set read from a snapshot and rebuilds the key map and postings from it.
    func restoreLive(_ bits: Bitset) throws {
        live = bits
        ids.reserveCapacity(bits.count)
        var failure: VectorIndexError?
        bits.forEach { id in
            guard id < keys.count else {
                failure = .corrupted(file: "snapshot", reason: "live id \(id) beyond \(keys.count) nodes")
                return
            }
            ids[keys[id]] = UInt32(id)
        }
        if let failure { throw failure }
        for id in 0..<keys.count where !bits.contains(id) { attributes.remove(id) }
    }

    /// A fresh index holding only the live vectors (compaction): tombstones are gone and the graph
    /// is rebuilt from scratch.
    func compacted(threads: Int) -> MemoryIndex {
        let fresh = MemoryIndex(dimension: dimension, metric: metric, algorithm: algorithm, capacity: max(liveCount, 1))
        fresh.exactFilterFraction = exactFilterFraction
        fresh.exactBelow = exactBelow
        fresh.twoHopBelowFraction = twoHopBelowFraction
        var records: [VectorRecord] = []
        records.reserveCapacity(liveCount)
        live.forEach { id in
            records.append(VectorRecord(key: keys[id], vector: vectors.vector(id), attributes: attributes.values(of: id)))
        }
        fresh.upsert(records[...], threads: threads)
        fresh.sequence = sequence
        return fresh
    }
}
