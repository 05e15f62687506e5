import Foundation
import GRPCCore
import VitrineIndex

/// Vector indexes as collections of one Milvus database: the index the catalog calls `index` is
/// the configured collection, `index-<n>` is `<collection>_<n>`, and `<collection>_meta` holds a
/// row per index (its sequence number and a reindex's build marker). Collections are created with
/// the configured HNSW parameters and COSINE, and loaded on open.
public final class MilvusVectorSpace: VectorSpace, @unchecked Sendable {
    public let configuration: MilvusConfiguration
    let client: MilvusClient
    private let lock = NSLock()
    private var metaReady = false

    public init(_ configuration: MilvusConfiguration) throws {
        self.configuration = configuration
        client = try MilvusClient(configuration)
    }

    public var kind: String { "milvus" }
    public var location: String { configuration.displayURL }

    /// Whether the server answers its health check healthy (for `/readyz`).
    public func checkHealth() throws {
        let response = try client.call("health check", idempotent: true, { try await $0.checkHealth(Milvus_Proto_Milvus_CheckHealthRequest(), metadata: $1, options: $2) },
                                       status: \.status)
        guard response.isHealthy else {
            throw VectorIndexError.unavailable(dependency: configuration.dependency, reason: "unhealthy: \(response.reasons.joined(separator: "; "))")
        }
    }

    /// Opens index `name`. A new collection's HNSW parameters are the URL's, unless `settings`
    /// asks for others than the defaults (a reindex with `--M` or `--ef-construction`).
    public func open(_ name: String, configuration settings: VectorStoreConfiguration, writer: Bool) throws -> any VectorStore {
        guard settings.metric == .cosine else {
            throw VectorIndexError.invalidArgument("Milvus collections are searched by cosine, not \(settings.metric)")
        }
        var graph = (M: configuration.M, efConstruction: configuration.efConstruction)
        if case .hnsw(let parameters) = settings.algorithm, parameters != HNSWParameters() {
            graph = (parameters.M, parameters.efConstruction)
        }
        return try openStore(name, dimension: settings.dimension, writer: writer, graph: graph)
    }

    /// ``open(_:configuration:writer:)`` with the concrete type.
    public func openStore(_ name: String, dimension: Int, writer: Bool,
                          graph: (M: Int, efConstruction: Int)? = nil) throws -> MilvusVectorStore {
        let graph = graph ?? (configuration.M, configuration.efConstruction)
        let collection = configuration.collectionName(forIndex: name)
        if writer { try prepareMeta() }
        if try has(collection) {
            let schema = try describe(collection).schema
            let vector = schema.fields.first { $0.name == MilvusField.vector.rawValue }
            let dim = vector?.typeParams.first { $0.key == "dim" }.flatMap { Int($0.value) }
            let missing = MilvusField.allCases.map(\.rawValue).filter { field in !schema.fields.contains { $0.name == field } }
            guard missing.isEmpty, let dim else {
                throw VectorIndexError.incompatible(file: "\(configuration.dependency) collection \(collection)",
                                                    reason: "it is not a Vitrine collection (missing fields: \(missing.joined(separator: ", ")))")
            }
            guard dim == dimension else {
                throw VectorIndexError.incompatible(file: "\(configuration.dependency) collection \(collection)",
                                                    reason: "it holds \(dim)-dimensional vectors, the model makes \(dimension)")
            }
            // A writer that died between creating the collection and its index left it without one.
            if writer, try !hasIndex(collection) {
                try createIndex(collection, field: .vector, type: "HNSW", metric: "COSINE",
                                params: "{\"M\": \(graph.M), \"efConstruction\": \(graph.efConstruction)}")
            }
        } else {
            guard writer else { throw VectorIndexError.notFound(file: "\(configuration.dependency) collection \(collection)") }
            try createCollection(collection, schema: Self.indexSchema(collection, dimension: dimension))
            try createIndex(collection, field: .vector, type: "HNSW", metric: "COSINE",
                            params: "{\"M\": \(graph.M), \"efConstruction\": \(graph.efConstruction)}")
            if try readMeta(name) == nil { try writeMeta(name, sequence: 0, marker: nil) }
        }
        try load(collection)
        return MilvusVectorStore(space: self, name: name, collection: collection, dimension: dimension)
    }

    public func exists(_ name: String) throws -> Bool {
        try has(configuration.collectionName(forIndex: name))
    }

    public func indexNames() throws -> [String] {
        guard try has(configuration.metaCollection) else { return [] }
        try load(configuration.metaCollection)
        let fields = try metaQuery(nil, output: ["key"])
        return fields.strings(.key).sorted()
    }

    public func marker(of name: String) throws -> Data? {
        try readMeta(name)?.marker.flatMap { $0.isEmpty ? nil : Data($0.utf8) }
    }

    public func setMarker(_ marker: Data?, of name: String) throws {
        try prepareMeta()
        let sequence = try readMeta(name)?.sequence ?? 0
        try writeMeta(name, sequence: sequence, marker: marker.map { String(decoding: $0, as: UTF8.self) })
    }

    public func remove(_ name: String) throws {
        try drop(configuration.collectionName(forIndex: name))
        if try has(configuration.metaCollection) {
            try deleteMeta(name)
        }
    }

    /// Drops every index of this space and its meta collection (tests, and a user starting over).
    public func removeAll() throws {
        for name in try indexNames() { try remove(name) }
        try drop(configuration.collectionName(forIndex: "index"))
        try drop(configuration.metaCollection)
        lock.withLock { metaReady = false }
    }

    public func size(of name: String) -> Int64? { nil }

    public func close() {
        client.close()
    }

    // MARK: Sequence numbers

    /// The last sequence number of index `name` (0 when it has no record). Read from the server
    /// every time: the writers of several shards raise it.
    func sequence(of name: String) throws -> UInt64 {
        try readMeta(name)?.sequence ?? 0
    }

    /// Raises the sequence number of index `name` by one and returns it (a writer, before it
    /// changes rows): one read and one write of its record.
    func advanceSequence(of name: String) throws -> UInt64 {
        let record = try readMeta(name)
        let sequence = (record?.sequence ?? 0) + 1
        try writeMeta(name, sequence: sequence, marker: record?.marker)
        return sequence
    }

    // MARK: Meta collection

    private struct MetaRow {
        var sequence: UInt64
        var marker: String?
    }

    private func prepareMeta() throws {
        if lock.withLock({ metaReady }) { return }
        let meta = configuration.metaCollection
        if try !has(meta) {
            try createCollection(meta, schema: Self.metaSchema(meta))
            try createIndex(meta, field: .vector, type: "FLAT", metric: "L2", params: "{}")
        }
        try load(meta)
        lock.withLock { metaReady = true }
    }

    private func readMeta(_ name: String) throws -> MetaRow? {
        if !lock.withLock({ metaReady }) {
            guard try has(configuration.metaCollection) else { return nil }
        }
        try prepareMetaForReading()
        let fields = try metaQuery(.isIn(.key, [name]), output: ["key", "sequence", "marker"])
        guard let sequence = fields.longs("sequence").first else { return nil }
        let marker = fields.first { $0.fieldName == "marker" }?.scalars.stringData.data.first
        return MetaRow(sequence: UInt64(max(0, sequence)), marker: marker)
    }

    private func prepareMetaForReading() throws {
        if lock.withLock({ metaReady }) { return }
        try load(configuration.metaCollection)
        lock.withLock { metaReady = true }
    }

    private func writeMeta(_ name: String, sequence: UInt64, marker: String?) throws {
        var request = Milvus_Proto_Milvus_UpsertRequest()
        request.dbName = configuration.database
        request.collectionName = configuration.metaCollection
        request.numRows = 1
        var markerField = Milvus_Proto_Schema_FieldData()
        markerField.type = .varChar
        markerField.fieldName = "marker"
        markerField.scalars.stringData.data = [marker ?? ""]
        request.fieldsData = [
            .strings(.key, [name]), .longs(.sequence, [Int64(sequence)]), markerField,
            .vectors(.vector, dimension: 2, [1, 0]),
        ]
        let sent = request
        _ = try client.call("record the sequence of \(name)", idempotent: true,
                            { try await $0.upsert(sent, metadata: $1, options: $2) }, status: \.status)
    }

    private func deleteMeta(_ name: String) throws {
        var request = Milvus_Proto_Milvus_DeleteRequest()
        request.dbName = configuration.database
        request.collectionName = configuration.metaCollection
        request.expr = MilvusExpression.isIn(.key, [name]).description
        let sent = request
        _ = try client.call("delete the record of \(name)", idempotent: true,
                            { try await $0.delete(sent, metadata: $1, options: $2) }, status: \.status)
    }

    private func metaQuery(_ expression: MilvusExpression?, output: [String]) throws -> [Milvus_Proto_Schema_FieldData] {
        var request = Milvus_Proto_Milvus_QueryRequest()
        request.dbName = configuration.database
        request.collectionName = configuration.metaCollection
        request.expr = expression?.description ?? "key != \"\""
        request.outputFields = output
        request.consistencyLevel = .strong
        request.useDefaultConsistency = false
        let sent = request
        return try client.call("read \(configuration.metaCollection)", idempotent: true,
                               { try await $0.query(sent, metadata: $1, options: $2) }, status: \.status).fieldsData
    }

    // MARK: Collections

    /// Drops `collection` when it exists.
    private func drop(_ collection: String) throws {
        guard try has(collection) else { return }
        var request = Milvus_Proto_Milvus_DropCollectionRequest()
        request.dbName = configuration.database
        request.collectionName = collection
        let sent = request
        _ = try client.call("drop collection \(collection)", idempotent: true, { try await $0.dropCollection(sent, metadata: $1, options: $2) },
                            status: { $0 })
    }

    func has(_ collection: String) throws -> Bool {
        var request = Milvus_Proto_Milvus_HasCollectionRequest()
        request.dbName = configuration.database
        request.collectionName = collection
        let sent = request
        return try client.call("has collection \(collection)", idempotent: true,
                               { try await $0.hasCollection(sent, metadata: $1, options: $2) }, status: \.status).value
    }

    /// A collection's schema and id.
    func describe(_ collection: String) throws -> Milvus_Proto_Milvus_DescribeCollectionResponse {
        var request = Milvus_Proto_Milvus_DescribeCollectionRequest()
        request.dbName = configuration.database
        request.collectionName = collection
        let sent = request
        return try client.call("describe collection \(collection)", idempotent: true,
                               { try await $0.describeCollection(sent, metadata: $1, options: $2) }, status: \.status)
    }

    private func createCollection(_ collection: String, schema: Milvus_Proto_Schema_CollectionSchema) throws {
        var request = Milvus_Proto_Milvus_CreateCollectionRequest()
        request.dbName = configuration.database
        request.collectionName = collection
        request.schema = try schema.serializedData()
        request.shardsNum = 1
        request.consistencyLevel = configuration.consistency.level
        let sent = request
        do {
            _ = try client.call("create collection \(collection)", idempotent: false,
                                { try await $0.createCollection(sent, metadata: $1, options: $2) }, status: { $0 })
        } catch VectorIndexError.rejected(_, let reason) where reason.contains("already exist") {
            // Another writer (or a retry after a lost answer) created it first.
        }
    }

    /// Whether the vector field of `collection` has an index (a collection without one answers
    /// DescribeIndex with an error status).
    private func hasIndex(_ collection: String) throws -> Bool {
        var request = Milvus_Proto_Milvus_DescribeIndexRequest()
        request.dbName = configuration.database
        request.collectionName = collection
        request.fieldName = MilvusField.vector.rawValue
        let sent = request
        do {
            return try !client.call("describe index of \(collection)", idempotent: true,
                                    { try await $0.describeIndex(sent, metadata: $1, options: $2) }, status: \.status).indexDescriptions.isEmpty
        } catch VectorIndexError.rejected {
            return false
        }
    }

    private func createIndex(_ collection: String, field: MilvusField, type: String, metric: String, params: String) throws {
        var request = Milvus_Proto_Milvus_CreateIndexRequest()
        request.dbName = configuration.database
        request.collectionName = collection
        request.fieldName = field.rawValue
        request.indexName = "\(field.rawValue)_index"
        request.extraParams = [.pair("index_type", type), .pair("metric_type", metric), .pair("params", params)]
        let sent = request
        // Creating the same index again is accepted (Milvus) or answered "already exists" (Milvus
        // Lite): safe to retry either way.
        do {
            _ = try client.call("create index on \(collection)", idempotent: true,
                                { try await $0.createIndex(sent, metadata: $1, options: $2) }, status: { $0 })
        } catch VectorIndexError.rejected(_, let reason) where reason.contains("already exist") {
        }
    }

    /// Loads `collection` into the query nodes and waits until it is loaded.
    func load(_ collection: String) throws {
        var state = Milvus_Proto_Milvus_GetLoadStateRequest()
        state.dbName = configuration.database
        state.collectionName = collection
        let stateRequest = state
        func loadState() throws -> Milvus_Proto_Common_LoadState {
            try client.call("load state of \(collection)", idempotent: true,
                            { try await $0.getLoadState(stateRequest, metadata: $1, options: $2) }, status: \.status).state
        }
        if try loadState() == .loaded { return }
        var request = Milvus_Proto_Milvus_LoadCollectionRequest()
        request.dbName = configuration.database
        request.collectionName = collection
        let sent = request
        _ = try client.call("load collection \(collection)", idempotent: true,
                            { try await $0.loadCollection(sent, metadata: $1, options: $2) }, status: { $0 })
        let deadline = Date().addingTimeInterval(max(60, configuration.timeout))
        while try loadState() != .loaded {
            guard Date() < deadline else {
                throw VectorIndexError.unavailable(dependency: configuration.dependency, reason: "collection \(collection) did not load within \(Int(max(60, configuration.timeout))) s")
            }
            Thread.sleep(forTimeInterval: 0.1)
        }
    }

    // MARK: Schemas

    static func indexSchema(_ name: String, dimension: Int) -> Milvus_Proto_Schema_CollectionSchema {
        var schema = Milvus_Proto_Schema_CollectionSchema()
        schema.name = name
        schema.description_p = "Vitrine vectors"
        schema.fields = [
            .varChar(MilvusField.key.rawValue, maxLength: 64, primary: true),
            .varChar(MilvusField.product.rawValue, maxLength: 65_535),
            .varChar(MilvusField.image.rawValue, maxLength: 65_535),
            .varChar(MilvusField.category.rawValue, maxLength: 65_535),
            .varChar(MilvusField.market.rawValue, maxLength: 65_535),
            .scalar(MilvusField.sequence.rawValue, .int64),
            .floatVector(MilvusField.vector.rawValue, dimension: dimension),
        ]
        return schema
    }

    static func metaSchema(_ name: String) -> Milvus_Proto_Schema_CollectionSchema {
        var schema = Milvus_Proto_Schema_CollectionSchema()
        schema.name = name
        schema.description_p = "Vitrine index records"
        schema.fields = [
            .varChar("key", maxLength: 256, primary: true),
            .scalar("sequence", .int64),
            .varChar("marker", maxLength: 65_535),
            .floatVector(MilvusField.vector.rawValue, dimension: 2),
        ]
        return schema
    }
}

extension Milvus_Proto_Schema_FieldSchema {
    static func varChar(_ name: String, maxLength: Int, primary: Bool = false) -> Self {
        var field = Self()
        field.name = name
        field.dataType = .varChar
        field.isPrimaryKey = primary
        field.typeParams = [.pair("max_length", "\(maxLength)")]
        return field
    }

    static func scalar(_ name: String, _ type: Milvus_Proto_Schema_DataType) -> Self {
        var field = Self()
        field.name = name
        field.dataType = type
        return field
    }

    static func floatVector(_ name: String, dimension: Int) -> Self {
        var field = Self()
        field.name = name
        field.dataType = .floatVector
        field.typeParams = [.pair("dim", "\(dimension)")]
        return field
    }
}
