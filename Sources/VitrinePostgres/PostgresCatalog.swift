import Foundation
import PostgresNIO
import VitrineCatalog

/// The catalog in PostgreSQL: the same tables and semantics as ``SQLiteCatalog`` (a product and
/// its images commit in one transaction with the vector sequence they belong to; every change
/// advances the generation readers poll), full-text search over a generated `tsvector` with a GIN
/// index ranked by `ts_rank_cd`, one writer at a time through an advisory lock.
///
/// Every value is a bound parameter; a batch travels as one JSON document that the server
/// unpacks with `jsonb_to_recordset`, so a write is a few statements whatever its size, and text
/// with quotes, backslashes or SQL in it is stored exactly. Ids sort by their bytes (`COLLATE
/// "C"`), as SQLite sorts them.
public final class PostgresCatalog: Catalog, @unchecked Sendable {
    public let configuration: PostgresConfiguration
    public let isReadOnly: Bool
    let pool: PostgresPool

    /// Connects to the server and (for writing) creates or migrates the schema.
    ///
    /// - Throws: ``CatalogError/unavailable(dependency:reason:)`` when the server cannot be
    ///   reached or refuses the credentials; ``CatalogError/notFound(path:)`` (read-only) when the
    ///   schema holds no catalog; ``CatalogError/schemaTooNew(path:found:supported:)``.
    public init(_ configuration: PostgresConfiguration, readOnly: Bool = false) throws {
        self.configuration = configuration
        isReadOnly = readOnly
        pool = PostgresPool(configuration)
        do {
            if readOnly {
                guard let found = try PostgresSchema.readVersion(pool) else {
                    throw CatalogError.notFound(path: pool.dependency)
                }
                if found > PostgresSchema.version {
                    throw CatalogError.schemaTooNew(path: pool.dependency, found: found, supported: PostgresSchema.version)
                }
                if found < PostgresSchema.version {
                    throw CatalogError.corrupted(path: pool.dependency, reason: "schema version \(found) is older than \(PostgresSchema.version); open it once for writing to upgrade it")
                }
            } else {
                try PostgresSchema.migrate(pool)
            }
        } catch {
            pool.shutdown()
            throw error
        }
    }

    public var backend: StoreBackend { StoreBackend(kind: "postgres", location: configuration.displayURL) }

    public func close() throws { pool.shutdown() }

    public static var schemaVersion: Int { PostgresSchema.version }

    // MARK: - Writer lock

    /// A session-level advisory lock on a connection of its own, held until released or until the
    /// process (or its connection) ends. The holder's description is kept in the `writer` table,
    /// so a refused writer can name the command and pid that holds it. A shard's lease is the
    /// writer lock taken shared (shard workers run together; a whole writer, taking it
    /// exclusively, waits for them all) plus the shard's own lock taken exclusively.
    public func acquireWriterLease(holder: String, shard: Shard?) throws -> any WriterLease {
        let connection = try pool.connectForLease()
        let session = PostgresPool.Session(connection: connection, pool: pool)
        do {
            let key = "vitrine-writer:" + configuration.schema
            var taken: Bool
            if let shard {
                let shardKey = key + ":shard:" + shard.description
                taken = try session.query("SELECT pg_try_advisory_lock_shared(hashtext(\(key)))").first?.decode(Bool.self) ?? false
                if taken {
                    taken = try session.query("SELECT pg_try_advisory_lock(hashtext(\(shardKey)))").first?.decode(Bool.self) ?? false
                }
            } else {
                taken = try session.query("SELECT pg_try_advisory_lock(hashtext(\(key)))").first?.decode(Bool.self) ?? false
            }
            guard taken else {
                let text = try session.query("SELECT holder FROM writer").first?.decode(String.self)
                let decoder = JSONDecoder()
                decoder.dateDecodingStrategy = .iso8601
                let summary = text.flatMap { try? decoder.decode(WriterLock.Holder.self, from: Data($0.utf8)) }?.summary
                throw CatalogError.locked(path: pool.dependency, holder: summary ?? "another process (it recorded no description)")
            }
            let encoder = JSONEncoder()
            encoder.dateEncodingStrategy = .iso8601
            let me = String(decoding: try encoder.encode(WriterLock.Holder.thisProcess(command: holder)), as: UTF8.self)
            try session.execute("""
                INSERT INTO writer(singleton, holder) VALUES (true, \(me))
                ON CONFLICT (singleton) DO UPDATE SET holder = excluded.holder
                """)
            return PostgresWriterLease(connection: connection, pool: pool)
        } catch {
            PostgresWriterLease(connection: connection, pool: pool).release()
            throw error
        }
    }

    // MARK: - Writes

    public func upsert(_ batch: [Product], fingerprints: [String: String], vectorSequence: UInt64) throws {
        for product in batch { try product.validate() }
        let products = Product.lastOfEachID(batch)
        let sequence = try Self.storable(vectorSequence)
        let rows = try products.map { product -> ProductRow in
            let extra = try Self.json(product.extra, what: "product \(product.id): extra attributes")
            return ProductRow(id: product.id, name: product.name, description: product.description,
                              category: product.category, category_name: product.categoryName, market: product.market,
                              source: product.source, extra: extra, fingerprint: fingerprints[product.id])
        }
        let images = products.flatMap { product in
            product.images.enumerated().map { position, image in
                ImageRow(product_id: product.id, image_id: image.id, position: position, key: image.key.description,
                         sha256: image.sha256, width: image.width, height: image.height)
            }
        }
        let productJSON = try Self.json(rows, what: "the batch")
        let imageJSON = try Self.json(images, what: "the batch's images")
        let ids = products.map(\.id)
        let now = Date().timeIntervalSince1970
        try write { session in
            try session.execute("""
                INSERT INTO products(id, name, description, category, category_name, market, source, extra, fingerprint, updated_at)
                SELECT id, name, description, category, category_name, market, source, extra, fingerprint, \(now)
                FROM jsonb_to_recordset(\(productJSON)::jsonb) AS b(id text, name text, description text, category text,
                    category_name text, market text, source text, extra text, fingerprint text)
                ON CONFLICT (id) DO UPDATE SET
                    name = excluded.name, description = excluded.description, category = excluded.category,
                    category_name = excluded.category_name, market = excluded.market, source = excluded.source,
                    extra = excluded.extra, fingerprint = excluded.fingerprint, updated_at = excluded.updated_at
                """)
            try session.execute("DELETE FROM images WHERE product_id = ANY(\(ids)::text[])")
            if !images.isEmpty {
                try session.execute("""
                    INSERT INTO images(product_id, image_id, position, key, sha256, width, height)
                    SELECT product_id, image_id, position, key, sha256, width, height
                    FROM jsonb_to_recordset(\(imageJSON)::jsonb) AS i(product_id text, image_id text, position integer,
                        key text, sha256 text, width integer, height integer)
                    """)
            }
            try Self.recordCommit(session, vectorSequence: sequence)
        }
    }

    @discardableResult
    public func delete(ids: [String], vectorSequence: UInt64) throws -> [Product] {
        let sequence = try Self.storable(vectorSequence)
        return try write { session in
            let found = try fetchProducts(session, ids: ids)
            try session.execute("DELETE FROM products WHERE id = ANY(\(ids)::text[])")
            try Self.recordCommit(session, vectorSequence: sequence)
            var seen = Set<String>()
            return ids.compactMap { id in seen.insert(id).inserted ? found[id] : nil }
        }
    }

    public func markStale(ids: [String]) throws {
        try write { session in
            try session.execute("UPDATE products SET fingerprint = NULL WHERE id = ANY(\(ids)::text[])")
        }
    }

    // MARK: - Reads

    public func products(ids: [String]) throws -> [String: Product] {
        if ids.isEmpty { return [:] }
        return try read { session in try fetchProducts(session, ids: ids) }
    }

    public func fingerprints(ids: [String]) throws -> [String: String] {
        if ids.isEmpty { return [:] }
        return try read { session in
            var result: [String: String] = [:]
            for row in try session.query("""
                SELECT id, fingerprint FROM products WHERE id = ANY(\(ids)::text[]) AND fingerprint IS NOT NULL
                """) {
                let (id, fingerprint) = try row.decode((String, String).self)
                result[id] = fingerprint
            }
            return result
        }
    }

    public func productIDs(source: String) throws -> [String] {
        try read { session in
            try session.query("SELECT id FROM products WHERE source = \(source) ORDER BY id").map { try $0.decode(String.self) }
        }
    }

    public func allProductIDs() throws -> [String] {
        try read { session in try session.query("SELECT id FROM products ORDER BY id").map { try $0.decode(String.self) } }
    }

    public func imageKeys() throws -> [(product: String, image: String)] {
        try read { session in
            try session.query("SELECT product_id, image_id FROM images ORDER BY product_id, image_id").map { row in
                let (product, image) = try row.decode((String, String).self)
                return (product, image)
            }
        }
    }

    public func imageEntries() throws -> [ImageEntry] {
        try read { session in
            try session.query("""
                SELECT i.product_id, i.image_id, i.key, p.category, p.market
                FROM images i JOIN products p ON p.id = i.product_id ORDER BY i.product_id, i.image_id
                """).map { row in
                let (product, image, text, category, market) = try row.decode((String, String, String, String?, String?).self)
                return ImageEntry(product: product, image: image, key: try blobKey(text, of: "image \(image) of product \(product)"),
                                  category: category, market: market)
            }
        }
    }

    public func referencedBlobs() throws -> Set<BlobKey> {
        try read { session in
            Set(try session.query("SELECT DISTINCT key FROM images").map { try blobKey(try $0.decode(String.self), of: "an image row") })
        }
    }

    public func counts() throws -> (products: Int, images: Int) {
        try read { session in
            let row = try session.query("SELECT (SELECT count(*) FROM products), (SELECT count(*) FROM images)").first
            guard let row else { return (0, 0) }
            let (products, images) = try row.decode((Int, Int).self)
            return (products, images)
        }
    }

    public func categories() throws -> [FacetCount] {
        try read { session in
            try session.query("""
                SELECT category, max(category_name), count(*) AS n FROM products
                WHERE category IS NOT NULL GROUP BY category ORDER BY n DESC, category
                """).map { row in
                let (value, name, count) = try row.decode((String, String?, Int).self)
                return FacetCount(value: value, name: name, count: count)
            }
        }
    }

    public func markets() throws -> [FacetCount] {
        try read { session in
            try session.query("""
                SELECT market, count(*) AS n FROM products WHERE market IS NOT NULL GROUP BY market ORDER BY n DESC, market
                """).map { row in
                let (value, count) = try row.decode((String, Int).self)
                return FacetCount(value: value, name: nil, count: count)
            }
        }
    }

    /// Each word becomes its own `plainto_tsquery` (so no user text is query syntax), folded like
    /// the indexed text; the words are combined with AND, else with OR. Ranked by `ts_rank_cd`
    /// with name words (weight A) counting twice description words (weight B), then by id.
    public func textSearch(_ query: String, limit: Int, filter: ProductFilter) throws -> [String] {
        guard limit > 0, filter.categories?.isEmpty != true else { return [] }
        let terms = FullTextQuery.terms(query)
        guard !terms.all.isEmpty else { return [] }
        return try read { session in
            func search(_ words: [String], all: Bool) throws -> [String] {
                let combine = all ? "vitrine_all" : "vitrine_any"
                return try session.query(PostgresQuery(unsafeSQL: """
                    WITH q AS (
                        SELECT \(combine)(plainto_tsquery('simple'::regconfig, vitrine_fold(w))) AS query
                        FROM unnest($1::text[]) AS w
                    )
                    SELECT p.id FROM products p, q
                    WHERE q.query IS NOT NULL AND p.search @@ q.query
                      AND ($3::text[] IS NULL OR p.category = ANY($3::text[])) AND ($4::text IS NULL OR p.market = $4::text)
                    ORDER BY ts_rank_cd('{0.1, 0.2, 0.5, 1.0}', p.search, q.query) DESC, p.id
                    LIMIT $2
                    """, binds: try Self.binds(words, limit, filter))).map { try $0.decode(String.self) }
            }
            let all = try search(terms.all, all: true)
            if !all.isEmpty || terms.any.isEmpty { return all }
            return try search(terms.any, all: false)
        }
    }

    // MARK: - Bookkeeping

    public func vectorSequence() throws -> UInt64 { try servingState().vectorSequence }

    public func generation() throws -> UInt64 { try servingState().generation }

    public func lastCommit() throws -> Date? {
        try read { session in
            try session.query("SELECT last_commit FROM state").first?.decode(Double?.self).map(Date.init(timeIntervalSince1970:))
        }
    }

    public func setVectorSequence(_ sequence: UInt64) throws {
        let value = try Self.storable(sequence)
        try write { session in try Self.recordCommit(session, vectorSequence: value) }
    }

    public func modelRecord() throws -> ModelRecord? { try servingState().model }

    public func setModelRecord(_ record: ModelRecord) throws {
        let text = try record.jsonText()
        try write { session in
            try session.execute("UPDATE state SET model = \(text), generation = generation + 1, last_commit = \(Date().timeIntervalSince1970)")
        }
    }

    public func indexDirectoryName() throws -> String { try servingState().indexDirectory }

    public func servingState() throws -> ServingState {
        try read { session in
            guard let row = try session.query("SELECT generation, vector_sequence, index_directory, model, text_index FROM state").first else {
                throw CatalogError.corrupted(path: pool.dependency, reason: "the state row is missing")
            }
            let (generation, sequence, directory, model, text) = try row.decode((Int64, Int64, String, String?, String?).self)
            guard DataDirectory.isIndexDirectoryName(directory) else {
                throw CatalogError.corrupted(path: pool.dependency, reason: "the index directory name \"\(directory)\" is not index or index-<n>")
            }
            return ServingState(generation: UInt64(generation), vectorSequence: UInt64(sequence), indexDirectory: directory,
                                model: try model.map { try ModelRecord(jsonText: $0, catalog: pool.dependency) },
                                text: try text.map { try TextIndexRecord(jsonText: $0, catalog: pool.dependency) })
        }
    }

    public func setTextIndex(_ record: TextIndexRecord?) throws {
        let text = try record?.jsonText()
        try write { session in
            try session.execute("UPDATE state SET text_index = \(text), generation = generation + 1, last_commit = \(Date().timeIntervalSince1970)")
        }
    }

    public func switchIndex(directory: String, model: ModelRecord, vectorSequence: UInt64) throws {
        guard DataDirectory.isIndexDirectoryName(directory) else {
            throw CatalogError.invalidArgument("\"\(directory)\" is not an index directory name (index or index-<n>)")
        }
        let sequence = try Self.storable(vectorSequence)
        let text = try model.jsonText()
        try write { session in
            try session.execute("UPDATE state SET index_directory = \(directory), model = \(text)")
            try Self.recordCommit(session, vectorSequence: sequence)
        }
    }

    /// Checks what the schema's constraints cannot: every image's key is a valid blob key whose
    /// digest is its sha256, and the state row exists.
    public func integrityCheck() throws -> [String] {
        try read { session in
            var problems: [String] = []
            for row in try session.query("SELECT product_id, image_id, key, sha256 FROM images ORDER BY product_id, image_id LIMIT 100000") {
                let (product, image, key, sha) = try row.decode((String, String, String, String).self)
                if BlobKey(key)?.sha256 != sha { problems.append("image \(image) of product \(product) has key \(key) and sha256 \(sha)") }
                if problems.count == 100 { break }
            }
            if try session.query("SELECT count(*) FROM state").first?.decode(Int.self) != 1 {
                problems.append("the state table does not hold exactly one row")
            }
            return problems
        }
    }

    // MARK: - Helpers

    private func read<T>(_ body: (PostgresPool.Session) throws -> T) throws -> T {
        try pool.withConnection(idempotent: true, body)
    }

    private func write<T>(_ body: (PostgresPool.Session) throws -> T) throws -> T {
        if isReadOnly { throw CatalogError.readOnly(path: pool.dependency) }
        return try pool.transaction(body)
    }

    private func fetchProducts(_ session: PostgresPool.Session, ids: [String]) throws -> [String: Product] {
        var products: [String: Product] = [:]
        for row in try session.query("""
            SELECT id, name, description, category, category_name, market, source, extra
            FROM products WHERE id = ANY(\(ids)::text[])
            """) {
            let (id, name, description, category, categoryName, market, source, extraText) =
                try row.decode((String, String, String, String?, String?, String?, String, String).self)
            guard let extra = try? JSONDecoder().decode([String: String].self, from: Data(extraText.utf8)) else {
                throw CatalogError.corrupted(path: pool.dependency, reason: "product \(id) has invalid extra JSON")
            }
            products[id] = Product(id: id, name: name, description: description, category: category,
                                   categoryName: categoryName, market: market, source: source, extra: extra)
        }
        for row in try session.query("""
            SELECT product_id, image_id, key, sha256, width, height FROM images
            WHERE product_id = ANY(\(ids)::text[]) ORDER BY product_id, position
            """) {
            let (product, imageID, key, sha256, width, height) = try row.decode((String, String, String, String, Int, Int).self)
            var image = ProductImage(id: imageID, key: try blobKey(key, of: "image \(imageID) of product \(product)"),
                                     width: width, height: height)
            image.sha256 = sha256
            products[product]?.images.append(image)
        }
        return products
    }

    private func blobKey(_ text: String, of what: String) throws -> BlobKey {
        guard let key = BlobKey(text) else {
            throw CatalogError.corrupted(path: pool.dependency, reason: "\(what) has an invalid blob key \"\(text)\"")
        }
        return key
    }

    private static func recordCommit(_ session: PostgresPool.Session, vectorSequence: Int64) throws {
        try session.execute("""
            UPDATE state SET vector_sequence = \(vectorSequence), generation = generation + 1,
                last_commit = \(Date().timeIntervalSince1970)
            """)
    }

    private static func storable(_ sequence: UInt64) throws -> Int64 {
        guard let value = Int64(exactly: sequence) else {
            throw CatalogError.invalidArgument("vector sequence \(sequence) exceeds \(Int64.max), the largest PostgreSQL bigint")
        }
        return value
    }

    private static func json(_ value: some Encodable, what: String) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        guard let data = try? encoder.encode(value) else {
            throw CatalogError.invalidArgument("\(what) cannot be encoded as JSON")
        }
        return String(decoding: data, as: UTF8.self)
    }

    private static func binds(_ words: [String], _ limit: Int, _ filter: ProductFilter) throws -> PostgresBindings {
        var binds = PostgresBindings()
        binds.append(words)
        binds.append(limit)
        binds.append(filter.categories)
        binds.append(filter.market)
        return binds
    }

    private struct ProductRow: Encodable {
        var id, name, description: String
        var category, category_name, market: String?
        var source, extra: String
        var fingerprint: String?
    }

    private struct ImageRow: Encodable {
        var product_id, image_id: String
        var position: Int
        var key, sha256: String
        var width, height: Int
    }
}

/// The writer's advisory lock: held by its own connection, released by closing it (PostgreSQL
/// also releases it when the process or the connection dies).
final class PostgresWriterLease: WriterLease, @unchecked Sendable {
    private let lock = NSLock()
    private var connection: PostgresConnection?
    private let pool: PostgresPool

    init(connection: PostgresConnection, pool: PostgresPool) {
        self.connection = connection
        self.pool = pool
    }

    deinit { release() }

    func release() {
        let held = lock.withLock { () -> PostgresConnection? in
            defer { connection = nil }
            return connection
        }
        guard let held else { return }
        // Closing the session releases the lock; the pool's loop stops after it if it is closed.
        let pool = pool
        held.close().whenComplete { _ in
            withExtendedLifetime(held) {}
            pool.leaseEnded()
        }
    }
}
