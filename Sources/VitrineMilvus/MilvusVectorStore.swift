import Crypto
import Foundation
import GRPCCore
import SwiftProtobuf
import VitrineCore
import VitrineIndex

/// The vector role in a Milvus collection (``MilvusVectorSpace`` opens it by index name).
///
/// Rows: `key` (primary key, hex SHA-256 of product id, NUL, image id), `product`, `image`,
/// `category`, `market`, `sequence` (the batch that wrote the row) and `vector`, stored unit
/// length and searched by COSINE over an HNSW index. Filters become expressions built by
/// ``MilvusExpression``, never spliced.
///
/// Sequence numbers: the space's meta collection holds each index's number. A write first raises
/// it, then changes the rows, so a crash between the two leaves the number ahead of the catalog's
/// and the next writer's reconciliation compares keys; it can never leave the rows changed under
/// the old number. Writes within a process are serialized; across processes the catalog's writer
/// lock keeps one writer.
public final class MilvusVectorStore: VectorStore, @unchecked Sendable {
    public let dimension: Int
    public let metric: Metric = .cosine
    /// The index name the catalog uses (`index`, `index-2`, …) and its collection.
    public let name: String
    public let collection: String
    let space: MilvusVectorSpace
    private var client: MilvusClient { space.client }
    private var configuration: MilvusConfiguration { space.configuration }
    private let writer = NSLock()
    private let state = NSLock()
    private var closed = false
    /// Rows per insert or upsert call (messages stay far below Milvus's 64 MiB limit).
    static let writeChunk = 2000
    /// Milvus's largest `topk` and query window.
    static let maxWindow = 16_384
    /// Milvus builds no index on a sealed segment of fewer rows (its
    /// `segment.minSegmentSizeToEnableIndex`, 1024 by default) and searches it exhaustively.
    static let smallestIndexedSegment: Int64 = 1024
    /// The least beam a filtered search walks, before widening (see ``search(_:k:filter:ef:)``).
    static let filteredBeam = 256
    /// How many rows pass each recent filter (see ``search(_:k:filter:ef:)``).
    private let passing = PassingCounts(lifetime: 30)
    /// Concurrent searches with the same expression, top-k and beam go as one request.
    let coalescer = SearchCoalescer<Data, [SearchHit]>()

    init(space: MilvusVectorSpace, name: String, collection: String, dimension: Int) {
        self.space = space
        self.name = name
        self.collection = collection
        self.dimension = dimension
    }

    private func checkOpen() throws {
        if state.withLock({ closed }) { throw VectorIndexError.closed }
    }

    // MARK: Keys

    /// The primary key of `key`: fixed length, hex only, unique per (product, image).
    static func primaryKey(_ key: VectorKey) -> String {
        Hex.encode(SHA256.hash(data: Data((key.product + "\u{0}" + key.image).utf8)))
    }

    // MARK: Writes

    public func upsert(_ records: [VectorRecord]) throws -> UInt64 {
        try checkOpen()
        var rows: [VectorRecord] = []
        rows.reserveCapacity(records.count)
        for record in records {
            var row = record
            row.vector = try metric.prepare(record.vector, dimension: dimension, key: record.key)
            for name in record.attributes.keys where MilvusField.attribute(name) == nil {
                throw VectorIndexError.invalidArgument("\(record.key): Milvus collections store the attributes \(MilvusField.attributes.map(\.rawValue).joined(separator: " and ")), not \"\(name)\"")
            }
            rows.append(row)
        }
        // The last record of a repeated key wins, as in the embedded store.
        var last: [VectorKey: Int] = [:]
        for (i, row) in rows.enumerated() { last[row.key] = i }
        rows = rows.enumerated().filter { last[$1.key] == $0 }.map(\.1)
        return try write { sequence in
            var start = 0
            while start < rows.count {
                let chunk = rows[start..<min(start + Self.writeChunk, rows.count)]
                try upsertRows(Array(chunk), sequence: sequence)
                start += chunk.count
            }
        }
    }

    public func delete(_ keys: [VectorKey]) throws -> UInt64 {
        try checkOpen()
        let primaryKeys = Set(keys.map(Self.primaryKey)).sorted()
        return try write { _ in
            var start = 0
            while start < primaryKeys.count {
                let chunk = primaryKeys[start..<min(start + Self.writeChunk, primaryKeys.count)]
                try deleteRows(MilvusExpression.isIn(.key, chunk))
                start += chunk.count
            }
        }
    }

    /// One write batch: the next sequence number is recorded first, then `body` changes the rows.
    private func write(_ body: (UInt64) throws -> Void) throws -> UInt64 {
        writer.lock()
        defer { writer.unlock() }
        try checkOpen()
        let sequence = try space.advanceSequence(of: name)
        try body(sequence)
        return sequence
    }

    /// Writes `rows`: upserts those whose keys Milvus holds, inserts the rest. An upsert is a
    /// delete and an insert, and the deletes of keys that were never there still count against
    /// the segment: a bulk load written as upserts has every sealed segment compacted about a
    /// minute later, its index built a second time, and searches meanwhile switched between the two.
    private func upsertRows(_ rows: [VectorRecord], sequence: UInt64) throws {
        let keys = rows.map { Self.primaryKey($0.key) }
        let present = Set(try query(.isIn(.key, keys), output: [.key], limit: rows.count, strong: true).strings(.key))
        let pick = columns(of: rows, keys: keys, sequence: sequence)
        let stored = keys.indices.filter { present.contains(keys[$0]) }
        let fresh = keys.indices.filter { !present.contains(keys[$0]) }
        if !stored.isEmpty { try upsert(pick(stored), rows: stored.count) }
        if !fresh.isEmpty {
            var request = Milvus_Proto_Milvus_InsertRequest()
            request.dbName = configuration.database
            request.collectionName = collection
            request.numRows = UInt32(fresh.count)
            request.fieldsData = pick(fresh)
            let sent = request
            do {
                // Not retried: an insert whose answer was lost may have landed, and a second would
                // double the rows. The upsert below settles either case.
                _ = try client.call("insert", idempotent: false, { try await $0.insert(sent, metadata: $1, options: $2) }, status: \.status)
            } catch VectorIndexError.unavailable {
                try upsert(pick(fresh), rows: fresh.count)
            }
        }
    }

    private func upsert(_ fields: [Milvus_Proto_Schema_FieldData], rows: Int) throws {
        var request = Milvus_Proto_Milvus_UpsertRequest()
        request.dbName = configuration.database
        request.collectionName = collection
        request.numRows = UInt32(rows)
        request.fieldsData = fields
        let sent = request
        // An upsert sets absolute state: running it twice is harmless.
        _ = try client.call("upsert", idempotent: true, { try await $0.upsert(sent, metadata: $1, options: $2) }, status: \.status)
    }

    /// The columns of the rows at the given indices.
    private func columns(of rows: [VectorRecord], keys: [String], sequence: UInt64) -> ([Int]) -> [Milvus_Proto_Schema_FieldData] {
        { picked in
            [
                .strings(.key, picked.map { keys[$0] }),
                .strings(.product, picked.map { rows[$0].key.product }),
                .strings(.image, picked.map { rows[$0].key.image }),
                .strings(.category, picked.map { rows[$0].attributes["category"] ?? "" }),
                .strings(.market, picked.map { rows[$0].attributes["market"] ?? "" }),
                .longs(.sequence, Array(repeating: Int64(sequence), count: picked.count)),
                .vectors(.vector, dimension: self.dimension, picked.flatMap { rows[$0].vector }),
            ]
        }
    }

    private func deleteRows(_ expression: MilvusExpression) throws {
        var request = Milvus_Proto_Milvus_DeleteRequest()
        request.dbName = configuration.database
        request.collectionName = collection
        request.expr = expression.description
        let sent = request
        _ = try client.call("delete", idempotent: true, { try await $0.delete(sent, metadata: $1, options: $2) }, status: \.status)
    }

    // MARK: Reads

    public func search(_ query: [Float], k: Int, filter: VectorFilter?, ef: Int?) throws -> [SearchHit] {
        guard k > 0 else { throw VectorIndexError.invalidArgument("k must be positive, not \(k)") }
        if let ef, ef < 1 { throw VectorIndexError.invalidArgument("ef must be positive, not \(ef)") }
        try checkOpen()
        let prepared = try metric.prepare(query, dimension: dimension, key: nil)
        // A condition with no values passes nothing: no need to ask.
        if let filter, filter.conditions.values.contains(where: \.isEmpty) || filter.products?.isEmpty == true { return [] }
        let expression = try MilvusExpression.filter(filter)
        let topK = min(k, Self.maxWindow)
        var beam = min(max(ef ?? configuration.ef, topK), Self.maxWindow)
        if let expression {
            // Milvus's HNSW walk under a filter keeps `ef` candidates that pass it, and loses true
            // neighbours when few rows pass: on 2.3.5, 20k clustered vectors, top-10 recall was
            // 0.92 at ef 64 and 0.98 at ef 256 with 10% of the rows passing, 0.94 at ef 960 with
            // 7%, and 0.99–1.0 from ef 2560 on under both. The misses are the far neighbours of a
            // query whose own cluster has few rows that pass. So the beam under a filter is at
            // least `filteredBeam`, widened by the inverse of the passing fraction, as the embedded
            // index routes selective filters to an exact scan or a two-hop walk.
            let fraction = try passingFraction(expression)
            let widened = Double(max(beam, Self.filteredBeam)) / max(fraction, 1 / Double(Self.maxWindow))
            beam = Int(min(widened.rounded(.up), Double(Self.maxWindow)))
        }

        let key = SearchCoalescer<Data, [SearchHit]>.Key(expression: expression?.description ?? "", topK: topK, beam: beam)
        let vector = prepared.withUnsafeBytes { Data($0) }
        return try coalescer.search(vector, key: key) { vectors in try send(vectors, key) }
    }

    /// One search request of `vectors.count` queries (`nq`), and each query's hits, in order.
    private func send(_ vectors: [Data], _ key: SearchCoalescer<Data, [SearchHit]>.Key) throws -> [[SearchHit]] {
        var placeholder = Milvus_Proto_Common_PlaceholderValue()
        placeholder.tag = "$0"
        placeholder.type = .floatVector
        placeholder.values = vectors
        var group = Milvus_Proto_Common_PlaceholderGroup()
        group.placeholders = [placeholder]

        var request = Milvus_Proto_Milvus_SearchRequest()
        request.dbName = configuration.database
        request.collectionName = collection
        request.dsl = key.expression
        request.dslType = .boolExprV1
        request.placeholderGroup = try group.serializedData()
        request.outputFields = [MilvusField.product.rawValue, MilvusField.image.rawValue]
        request.searchParams = [
            .pair("anns_field", MilvusField.vector.rawValue), .pair("topk", "\(key.topK)"), .pair("metric_type", "COSINE"),
            .pair("params", "{\"ef\": \(key.beam)}"), .pair("round_decimal", "-1"),
        ]
        request.nq = Int64(vectors.count)
        request.consistencyLevel = configuration.consistency.level
        request.useDefaultConsistency = false
        let sent = request
        let response = try reloadingOnce { try client.call("search", idempotent: true, { try await $0.search(sent, metadata: $1, options: $2) }, status: \.status) }
        let results = response.results
        let products = results.fieldsData.strings(.product)
        let images = results.fieldsData.strings(.image)
        let count = min(results.scores.count, products.count, images.count)
        let hits = (0..<count).map { i in
            SearchHit(key: VectorKey(product: products[i], image: images[i]), distance: 1 - results.scores[i], metric: .cosine)
        }
        // The hits of all queries back to back, `topks[q]` of them for query q.
        if vectors.count == 1 { return [hits] }
        guard results.topks.count == vectors.count, results.topks.reduce(0, +) == Int64(count) else {
            throw VectorIndexError.rejected(
                dependency: configuration.dependency,
                reason: "search: \(vectors.count) queries came back with \(results.topks.count) result counts for \(count) hits")
        }
        var start = 0
        return results.topks.map { n in
            defer { start += Int(n) }
            return Array(hits[start..<start + Int(n)])
        }
    }

    public func vector(for key: VectorKey) throws -> [Float]? {
        let fields = try query(.isIn(.key, [Self.primaryKey(key)]), output: [.vector], limit: 1)
        let values = fields.floats(.vector)
        return values.count == dimension ? values : nil
    }

    public func contains(_ key: VectorKey) throws -> Bool {
        try !query(.isIn(.key, [Self.primaryKey(key)]), output: [.key], limit: 1).strings(.key).isEmpty
    }

    /// All keys, sorted. Milvus answers at most 16,384 rows per query, so the key space is walked
    /// by hex prefixes of the primary key, each split further while it fills a window.
    public func keys() throws -> [VectorKey] {
        var found: [VectorKey] = []
        var prefixes = (0..<16).map { String($0, radix: 16) }
        while let prefix = prefixes.popLast() {
            let fields = try query(.hexPrefix(.key, prefix), output: [.product, .image], limit: Self.maxWindow, strong: true)
            let products = fields.strings(.product)
            let images = fields.strings(.image)
            if products.count >= Self.maxWindow {
                prefixes += (0..<16).map { prefix + String($0, radix: 16) }
                continue
            }
            for (product, image) in zip(products, images) { found.append(VectorKey(product: product, image: image)) }
        }
        return found.sorted()
    }

    /// Live rows, at the configured consistency (a server's metrics poll it every second; Strong
    /// would make each poll wait for the server's next time tick).
    public func count() throws -> Int {
        try rowCount(nil)
    }

    /// Rows matching `expression` (all live rows when nil).
    private func rowCount(_ expression: MilvusExpression?, strong: Bool = false) throws -> Int {
        Int(try query(expression, output: [], count: true, limit: nil, strong: strong).longs("count(*)").first ?? 0)
    }

    /// The fraction of live rows `expression` passes, counted at most once per `passing.lifetime`
    /// seconds for each filter (a count is one query; searches are many).
    func passingFraction(_ expression: MilvusExpression) throws -> Double {
        let now = ContinuousClock.now
        func counted(_ expression: MilvusExpression?) throws -> Int {
            let key = expression?.description ?? ""
            if let known = passing.value(key, at: now) { return known }
            let rows = try rowCount(expression)
            passing.remember(key, rows, at: now)
            return rows
        }
        let total = try counted(nil)
        return total > 0 ? min(1, Double(try counted(expression)) / Double(total)) : 0
    }

    public func lastSequence() throws -> UInt64 {
        try checkOpen()
        return try space.sequence(of: name)
    }

    /// Seals what was written so far into persistent segments (Milvus's log already made every
    /// acknowledged write durable).
    public func flush() throws {
        try checkOpen()
        var request = Milvus_Proto_Milvus_FlushRequest()
        request.dbName = configuration.database
        request.collectionNames = [collection]
        let sent = request
        _ = try client.call("flush", idempotent: true, timeout: max(configuration.timeout, 60),
                            { try await $0.flush(sent, metadata: $1, options: $2) }, status: \.status)
    }

    /// Flushes, then waits until the server has built the HNSW graph over every row and the query
    /// nodes serve the indexed segments only: for migrations, benchmarks and recall checks that must
    /// measure the graph (rows still in growing segments are searched through Milvus 2.3's interim
    /// IVF index, whose recall is far lower).
    ///
    /// A bulk load leaves several small segments, which Milvus merges by itself within a minute
    /// (its global compaction) and then indexes again: on cores shared with the searches that
    /// followed, that minute of CPU lifted their p99 from 30–47 ms to 99–281 ms. So when more than
    /// one segment is served, the merge is asked for here (a manual compaction) and waited for,
    /// with the merged segment's index and its hand-off to the query nodes. When the request finds
    /// the segments in a merge Milvus started itself, or nothing to merge, the segments are watched
    /// for ``mergeWatch`` seconds for a merge's result. Throws
    /// ``VectorIndexError/unavailable(dependency:reason:)`` after `timeout`.
    public func settle(timeout: Double) throws {
        try flush()
        let deadline = Date().addingTimeInterval(timeout)
        var served = try waitUntilServed(deadline: deadline, timeout: timeout)
        // Each pass sees one merge's result; a few passes at most.
        for _ in 0..<4 {
            guard let segments = served, segments.count > 1 else { return }
            try compact(deadline: deadline, timeout: timeout)
            // The merge's output (or that of a merge the server had started itself on these
            // segments, when the request found them taken) replaces them: watch for it.
            let watchUntil = min(deadline, Date().addingTimeInterval(Self.mergeWatch))
            var changed = try Self.flushed(persistentSegments()) != segments
            while !changed && Date() < watchUntil {
                Thread.sleep(forTimeInterval: 0.5)
                changed = try Self.flushed(persistentSegments()) != segments
            }
            guard changed else { return }
            served = try waitUntilServed(deadline: deadline, timeout: timeout)
        }
    }

    /// How long ``settle(timeout:)`` watches for the result of a merge the server started itself
    /// (Milvus 2.3 collects finished merges every 10 s).
    static let mergeWatch: Double = 20

    /// Waits until the index covers every live row with no segment pending (a merge's output is
    /// pending until its graph is built), and the query nodes serve exactly the segments the data
    /// coordinator has flushed, each indexed (or too small to be): seen twice a second apart.
    /// Returns the served segments' ids, sorted; nil on a server that does not list them (Milvus
    /// Lite, where the index covering every row is all there is to wait for).
    private func waitUntilServed(deadline: Date, timeout: Double) throws -> [Int64]? {
        var settled: (since: Date, segments: [Int64]?)?
        while true {
            let index = try describeIndex()
            if let index, index.state == .failed {
                throw VectorIndexError.rejected(dependency: configuration.dependency,
                                                reason: "the index of \(collection) failed to build: \(index.indexStateFailReason)")
            }
            // Right after a flush the index can describe zero rows of zero while searches still go
            // to growing segments: the live rows, counted, are what the index must cover.
            let live = Int64(try rowCount(nil, strong: true))
            var state: (ready: Bool, segments: [Int64]?) = (false, nil)
            if let index, index.indexedRows >= index.totalRows, index.totalRows >= live,
               index.pendingIndexRows == 0 {
                state = try servedAsFlushed()
            }
            if !state.ready {
                settled = nil
            } else if let since = settled, since.segments == state.segments {
                if Date().timeIntervalSince(since.since) >= 1 { return state.segments }
            } else {
                settled = (Date(), state.segments)
            }
            guard Date() < deadline else {
                throw VectorIndexError.unavailable(dependency: configuration.dependency, reason: "the index of \(collection) was not built within \(Int(timeout)) s")
            }
            Thread.sleep(forTimeInterval: 0.5)
        }
    }

    /// Whether the query nodes serve exactly the flushed segments, each indexed or too small to
    /// be, and nothing is still being sealed; with the served segments' ids. (true, nil) on a
    /// server that does not list segments.
    private func servedAsFlushed() throws -> (ready: Bool, segments: [Int64]?) {
        let loaded: [Milvus_Proto_Milvus_QuerySegmentInfo]
        do {
            loaded = try servedSegments()
        } catch VectorIndexError.rejected {
            return (true, nil)
        }
        let stored = try persistentSegments()
        // Growing segments with no rows are where the next writes go; anything else not yet
        // flushed will become a segment to serve.
        let sealing = stored.values.contains { [.sealed, .flushing].contains($0.state) || ($0.state == .growing && $0.numRows > 0) }
        let indexed = loaded.allSatisfy { $0.state != .growing && ($0.indexID != 0 || $0.numRows < Self.smallestIndexedSegment) }
        let served = loaded.map(\.segmentID).sorted()
        return (!sealing && indexed && served == Self.flushed(stored), served)
    }

    /// The index of the vector field as the server describes it (nil before it has one).
    func describeIndex() throws -> Milvus_Proto_Milvus_IndexDescription? {
        var request = Milvus_Proto_Milvus_DescribeIndexRequest()
        request.dbName = configuration.database
        request.collectionName = collection
        request.fieldName = MilvusField.vector.rawValue
        let sent = request
        return try client.call("describe index", idempotent: true, { try await $0.describeIndex(sent, metadata: $1, options: $2) },
                               status: \.status).indexDescriptions.first
    }

    /// The segments the query nodes serve. Milvus Lite does not implement the call: it throws
    /// ``VectorIndexError/rejected(dependency:reason:)`` there.
    func servedSegments() throws -> [Milvus_Proto_Milvus_QuerySegmentInfo] {
        var request = Milvus_Proto_Milvus_GetQuerySegmentInfoRequest()
        request.dbName = configuration.database
        request.collectionName = collection
        let sent = request
        return try client.call("segment info", idempotent: true,
                               { try await $0.getQuerySegmentInfo(sent, metadata: $1, options: $2) }, status: \.status).infos
    }

    /// The ids of the flushed segments among `stored`, sorted: what the query nodes are to serve.
    private static func flushed(_ stored: [Int64: Milvus_Proto_Milvus_PersistentSegmentInfo]) -> [Int64] {
        stored.filter { $0.value.state == .flushed }.keys.sorted()
    }

    /// The data coordinator's segments of the collection, by id (dropped ones left out).
    private func persistentSegments() throws -> [Int64: Milvus_Proto_Milvus_PersistentSegmentInfo] {
        var request = Milvus_Proto_Milvus_GetPersistentSegmentInfoRequest()
        request.dbName = configuration.database
        request.collectionName = collection
        let sent = request
        let infos = try client.call("persistent segment info", idempotent: true,
                                    { try await $0.getPersistentSegmentInfo(sent, metadata: $1, options: $2) }, status: \.status).infos
        return Dictionary(infos.filter { $0.state != .dropped }.map { ($0.segmentID, $0) }, uniquingKeysWith: { a, _ in a })
    }

    /// Asks the server to merge the collection's segments now and waits until it reports the
    /// merge done (at once when it planned none: nothing to merge, the segments already in a merge,
    /// or a server that does not compact on request). Milvus 2.3.5 leaves the response's plan
    /// count unset, so the state is what tells.
    private func compact(deadline: Date, timeout: Double) throws {
        var request = Milvus_Proto_Milvus_ManualCompactionRequest()
        request.collectionID = try space.describe(collection).collectionID
        let sent = request
        let started: Milvus_Proto_Milvus_ManualCompactionResponse
        do {
            // Asking twice (a retry after a lost answer) plans nothing the first did not.
            started = try client.call("compact \(collection)", idempotent: true,
                                      { try await $0.manualCompaction(sent, metadata: $1, options: $2) }, status: \.status)
        } catch VectorIndexError.rejected {
            return
        }
        var poll = Milvus_Proto_Milvus_GetCompactionStateRequest()
        poll.compactionID = started.compactionID
        let asked = poll
        while true {
            let state = try client.call("compaction state", idempotent: true,
                                        { try await $0.getCompactionState(asked, metadata: $1, options: $2) }, status: \.status)
            if state.state == .completed { return }
            guard Date() < deadline else {
                throw VectorIndexError.unavailable(dependency: configuration.dependency, reason: "the segments of \(collection) were not merged within \(Int(timeout)) s")
            }
            Thread.sleep(forTimeInterval: 0.5)
        }
    }

    public func close() throws {
        state.withLock { closed = true }
    }

    /// The server is the state: there is nothing to catch up with.
    @discardableResult
    public func refresh() throws -> Bool { false }

    public func abandon() {
        state.withLock { closed = true }
    }

    /// Rows matching `expression` (all rows when nil), as column data.
    func query(_ expression: MilvusExpression?, output: [MilvusField], count: Bool = false, limit: Int?,
               strong: Bool = false) throws -> [Milvus_Proto_Schema_FieldData] {
        try checkOpen()
        var request = Milvus_Proto_Milvus_QueryRequest()
        request.dbName = configuration.database
        request.collectionName = collection
        request.expr = expression?.description ?? ""
        request.outputFields = count ? ["count(*)"] : output.map(\.rawValue)
        if let limit { request.queryParams = [.pair("limit", "\(limit)")] }
        request.consistencyLevel = strong ? .strong : configuration.consistency.level
        request.useDefaultConsistency = false
        let sent = request
        return try reloadingOnce {
            try client.call("query", idempotent: true, { try await $0.query(sent, metadata: $1, options: $2) }, status: \.status).fieldsData
        }
    }

    /// Runs a read; when the server answers that the collection is not loaded (a restarted Milvus
    /// Lite forgets what was loaded; Milvus reloads by itself), loads it and runs the read again.
    private func reloadingOnce<T>(_ read: () throws -> T) throws -> T {
        do {
            return try read()
        } catch let error as VectorIndexError {
            switch error {
            case .unavailable(_, let reason), .rejected(_, let reason):
                let text = reason.lowercased()
                guard text.contains("not loaded") || text.contains("released") || text.contains("load()") else { throw error }
                try space.load(collection)
                return try read()
            default:
                throw error
            }
        }
    }
}

extension MilvusConfiguration.Consistency {
    var level: Milvus_Proto_Common_ConsistencyLevel {
        switch self {
        case .strong: .strong
        case .bounded: .bounded
        case .session: .session
        case .eventually: .eventually
        }
    }
}

extension Milvus_Proto_Common_KeyValuePair {
    static func pair(_ key: String, _ value: String) -> Self {
        var pair = Self()
        pair.key = key
        pair.value = value
        return pair
    }
}

extension Milvus_Proto_Schema_FieldData {
    static func strings(_ field: MilvusField, _ values: [String]) -> Self {
        var data = Self()
        data.type = .varChar
        data.fieldName = field.rawValue
        data.scalars.stringData.data = values
        return data
    }

    static func longs(_ field: MilvusField, _ values: [Int64]) -> Self {
        var data = Self()
        data.type = .int64
        data.fieldName = field.rawValue
        data.scalars.longData.data = values
        return data
    }

    static func vectors(_ field: MilvusField, dimension: Int, _ values: [Float]) -> Self {
        var data = Self()
        data.type = .floatVector
        data.fieldName = field.rawValue
        data.vectors.dim = Int64(dimension)
        data.vectors.floatVector.data = values
        return data
    }
}

extension [Milvus_Proto_Schema_FieldData] {
    func strings(_ field: MilvusField) -> [String] {
        first { $0.fieldName == field.rawValue }?.scalars.stringData.data ?? []
    }

    func longs(_ name: String) -> [Int64] {
        first { $0.fieldName == name }?.scalars.longData.data ?? []
    }

    func floats(_ field: MilvusField) -> [Float] {
        first { $0.fieldName == field.rawValue }?.vectors.floatVector.data ?? []
    }
}

/// Row counts per filter expression, each trusted for `lifetime` seconds; at most `capacity`
/// filters are remembered (all are forgotten when a new one would pass that).
final class PassingCounts: @unchecked Sendable {
    let lifetime: Duration
    let capacity: Int
    private let lock = NSLock()
    private var counts: [String: (rows: Int, at: ContinuousClock.Instant)] = [:]

    init(lifetime seconds: Int, capacity: Int = 1024) {
        lifetime = .seconds(seconds)
        self.capacity = capacity
    }

    func value(_ key: String, at now: ContinuousClock.Instant) -> Int? {
        lock.withLock {
            guard let entry = counts[key], now - entry.at < lifetime else { return nil }
            return entry.rows
        }
    }

    func remember(_ key: String, _ rows: Int, at now: ContinuousClock.Instant) {
        lock.withLock {
            if counts[key] == nil && counts.count >= capacity { counts.removeAll(keepingCapacity: true) }
            counts[key] = (rows, now)
        }
    }
}
