import Foundation
import GRDB

// The `meta` table: the vector-store sequence the catalog is consistent with, the generation
// readers poll, the time of the last commit, the model record and the live index directory.

extension SQLiteCatalog {
    /// The vector-store sequence recorded by the last write; 0 for a new catalog.
    public func vectorSequence() throws -> UInt64 {
        try read { db in try Self.counter(db, key: "vector_sequence", path: path) }
    }

    /// Increases by one on every committed change (upsert, delete, sequence, model record);
    /// readers poll it to notice commits. 0 for a new catalog.
    public func generation() throws -> UInt64 {
        try read { db in try Self.counter(db, key: "generation", path: path) }
    }

    /// Time of the last commit; nil for a new catalog.
    public func lastCommit() throws -> Date? {
        try read { db in
            guard let seconds = try Double.fetchOne(db, sql: "SELECT value FROM meta WHERE key = 'last_commit'") else {
                return nil
            }
            return Date(timeIntervalSince1970: seconds)
        }
    }

    /// Records `sequence` without other changes (reconciliation) and advances the generation.
    public func setVectorSequence(_ sequence: UInt64) throws {
        let value = try Self.storable(sequence)
        try write { db in try Self.recordCommit(db, vectorSequence: value) }
    }

    /// The model that produced the vectors, or nil when none was recorded.
    public func modelRecord() throws -> ModelRecord? {
        try read { db in try Self.modelRecord(db, path: path) }
    }

    /// Records the model that produced the vectors and advances the generation.
    public func setModelRecord(_ record: ModelRecord) throws {
        let text = try record.jsonText()
        try write { db in
            try Self.setMeta(db, key: "model", value: text)
            try Self.advanceGeneration(db)
        }
    }

    /// The live index directory's name inside the data directory: `index` until a reindex swaps
    /// in `index-<n>`.
    public func indexDirectoryName() throws -> String {
        try read { db in try Self.indexDirectoryName(db, path: path) }
    }

    /// What a reader serves, read in one transaction so the parts belong together: a reindex
    /// changes the index directory, the model and the sequence in one commit.
    public func servingState() throws -> ServingState {
        try read { db in
            ServingState(
                generation: try Self.counter(db, key: "generation", path: path),
                vectorSequence: try Self.counter(db, key: "vector_sequence", path: path),
                indexDirectory: try Self.indexDirectoryName(db, path: path),
                model: try Self.modelRecord(db, path: path),
                text: try String.fetchOne(db, sql: "SELECT value FROM meta WHERE key = 'text_index'")
                    .map { try TextIndexRecord(jsonText: $0, catalog: path) })
        }
    }

    /// Records the live text index (or its absence) and advances the generation.
    public func setTextIndex(_ record: TextIndexRecord?) throws {
        let text = try record?.jsonText()
        try write { db in
            if let text {
                try Self.setMeta(db, key: "text_index", value: text)
            } else {
                try db.execute(sql: "DELETE FROM meta WHERE key = 'text_index'")
            }
            try Self.advanceGeneration(db)
        }
    }

    /// Switches readers to another index in one transaction: the index directory's name, the model
    /// that built it, its sequence, and the generation (readers notice the change by it).
    public func switchIndex(directory: String, model: ModelRecord, vectorSequence: UInt64) throws {
        guard DataDirectory.isIndexDirectoryName(directory) else {
            throw CatalogError.invalidArgument("\"\(directory)\" is not an index directory name (index or index-<n>)")
        }
        let sequence = try Self.storable(vectorSequence)
        let text = try model.jsonText()
        try write { db in
            try Self.setMeta(db, key: "index_directory", value: directory)
            try Self.setMeta(db, key: "model", value: text)
            try Self.recordCommit(db, vectorSequence: sequence)
        }
    }

    // MARK: - Helpers

    static func indexDirectoryName(_ db: Database, path: String) throws -> String {
        guard let name = try String.fetchOne(db, sql: "SELECT value FROM meta WHERE key = 'index_directory'") else {
            return "index"
        }
        guard DataDirectory.isIndexDirectoryName(name) else {
            throw CatalogError.corrupted(path: path, reason: "the index directory name \"\(name)\" is not index or index-<n>")
        }
        return name
    }

    static func modelRecord(_ db: Database, path: String) throws -> ModelRecord? {
        guard let text = try String.fetchOne(db, sql: "SELECT value FROM meta WHERE key = 'model'") else { return nil }
        return try ModelRecord(jsonText: text, catalog: path)
    }

    /// Sets the sequence, advances the generation and stamps the commit time: the tail of every
    /// write transaction that changes what readers see.
    static func recordCommit(_ db: Database, vectorSequence: Int64) throws {
        try setMeta(db, key: "vector_sequence", value: vectorSequence)
        try advanceGeneration(db)
    }

    static func advanceGeneration(_ db: Database) throws {
        try db.execute(sql: """
            INSERT INTO meta(key, value) VALUES ('generation', 1)
            ON CONFLICT(key) DO UPDATE SET value = value + 1
            """)
        try setMeta(db, key: "last_commit", value: Date().timeIntervalSince1970)
    }

    static func setMeta(_ db: Database, key: String, value: some DatabaseValueConvertible) throws {
        let statement = try db.cachedStatement(sql: """
            INSERT INTO meta(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value
            """)
        try statement.execute(arguments: [key, value])
    }

    /// A non-negative integer from `meta` (0 when absent).
    static func counter(_ db: Database, key: String, path: String) throws -> UInt64 {
        let value = try DatabaseValue.fetchOne(db, sql: "SELECT value FROM meta WHERE key = ?", arguments: [key])
        guard let value, !value.isNull else { return 0 }
        guard case let .int64(number) = value.storage, number >= 0 else {
            throw CatalogError.corrupted(path: path, reason: "meta value \(key) is \(value), not a non-negative integer")
        }
        return UInt64(number)
    }

    /// SQLite integers are signed 64-bit.
    static func storable(_ sequence: UInt64) throws -> Int64 {
        guard let value = Int64(exactly: sequence) else {
            throw CatalogError.invalidArgument("vector sequence \(sequence) exceeds \(Int64.max), the largest SQLite integer")
        }
        return value
    }
}

/// The part of the catalog's bookkeeping a reader serves from, read together.
public struct ServingState: Sendable, Equatable {
    public var generation: UInt64
    public var vectorSequence: UInt64
    /// The live index directory's name (`index`, `index-<n>`).
    public var indexDirectory: String
    public var model: ModelRecord?
    /// The text index and its sentence model, when the products' text is embedded.
    public var text: TextIndexRecord?

    public init(generation: UInt64, vectorSequence: UInt64, indexDirectory: String, model: ModelRecord?, text: TextIndexRecord? = nil) {
        self.generation = generation
        self.vectorSequence = vectorSequence
        self.indexDirectory = indexDirectory
        self.model = model
        self.text = text
    }
}
