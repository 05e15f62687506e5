import Foundation
import VitrineCatalog
import VitrineIndex
import VitrineMilvus
import VitrinePostgres
import VitrineS3

/// Where each role of a data store lives. `--data DIR` alone puts all three in DIR (a SQLite
/// catalog, image files, the embedded index); `--catalog postgres://…`, `--blobs s3://…` and
/// `--vectors milvus://…` move a role out, and DIR keeps the rest (with every role moved out it
/// holds only the writer's lock file: a replica keeps no state another needs).
public struct StorageLocation: Sendable, Equatable {
    public enum CatalogRole: Sendable, Equatable {
        /// `catalog.sqlite` in the data directory.
        case embedded
        case postgres(PostgresConfiguration)
    }

    public enum BlobRole: Sendable, Equatable {
        /// `images/` in the data directory.
        case embedded
        case s3(S3Configuration)
    }

    public enum VectorRole: Sendable, Equatable {
        /// `index/` (and a reindex's `index-<n>/`) in the data directory.
        case embedded
        case milvus(MilvusConfiguration)
    }

    /// The data directory: the index, and every role not moved out.
    public var directory: DataDirectory
    public var catalog: CatalogRole
    public var blobs: BlobRole
    public var vectors: VectorRole

    public init(directory: DataDirectory, catalog: CatalogRole = .embedded, blobs: BlobRole = .embedded,
                vectors: VectorRole = .embedded) {
        self.directory = directory
        self.catalog = catalog
        self.blobs = blobs
        self.vectors = vectors
    }

    /// Whether every role is in the data directory (what backup, restore and the file-level verify
    /// of a directory work on).
    public var isEmbedded: Bool { catalog == .embedded && blobs == .embedded && vectors == .embedded }

    /// Whether writers on several machines can share the stores at once (the catalog in
    /// PostgreSQL, the photos in S3, the vectors in Milvus): what `ingest --shard` needs to run its
    /// shards side by side.
    public var sharesWriters: Bool {
        guard case .postgres = catalog, case .s3 = blobs, case .milvus = vectors else { return false }
        return true
    }

    /// Whether the catalog's state exists: the SQLite file, or (for PostgreSQL) always assumed, since
    /// opening finds out.
    var catalogMayExist: Bool {
        catalog == .embedded ? directory.exists : true
    }

    /// The catalog, opened for writing (created or migrated) or for reading.
    public func openCatalog(readOnly: Bool) throws -> any Catalog {
        switch catalog {
        case .embedded: try SQLiteCatalog(path: directory.catalogURL, readOnly: readOnly)
        case .postgres(let configuration): try PostgresCatalog(configuration, readOnly: readOnly)
        }
    }

    /// The blob store; a writer creates the S3 bucket when it does not exist yet.
    public func openBlobs(create: Bool) throws -> any BlobStore {
        switch blobs {
        case .embedded: try FileBlobStore(directory: directory.imagesURL)
        case .s3(let configuration): try S3BlobStore(configuration, createBucket: create)
        }
    }

    /// Where the vector indexes live: the data directory's folders, or a Milvus server's
    /// collections (connecting is lazy: a server that is down fails the first call, not this).
    public func openVectorSpace() throws -> any VectorSpace {
        switch vectors {
        case .embedded: EmbeddedVectorSpace(root: directory.url)
        case .milvus(let configuration): try MilvusVectorSpace(configuration)
        }
    }

    /// The URLs each role was given, parsed: `catalog` a `postgres://` URL (or nil, or the data
    /// directory's own), `blobs` an `s3://` URL (or nil). `settings` name where each came from in
    /// errors (`--catalog`, `VITRINE_CATALOG`, the config file's `catalog`); a password is accepted
    /// only when the URL did not come from the command line.
    public static func parse(directory: DataDirectory, catalog: String?, catalogSetting: String = "--catalog",
                             blobs: String?, blobsSetting: String = "--blobs",
                             vectors: String? = nil, vectorsSetting: String = "--vectors",
                             environment: [String: String], passwordAllowed: Bool) throws -> StorageLocation {
        // A setting that cannot be used is a usage error (exit 2), like a bad flag.
        do {
            return try parseRoles(directory: directory, catalog: catalog, catalogSetting: catalogSetting, blobs: blobs,
                                  blobsSetting: blobsSetting, vectors: vectors, vectorsSetting: vectorsSetting,
                                  environment: environment, passwordAllowed: passwordAllowed)
        } catch CatalogError.invalidArgument(let message) {
            throw EngineError.invalidArgument(message)
        } catch VectorIndexError.invalidArgument(let message) {
            throw EngineError.invalidArgument(message)
        }
    }

    private static func parseRoles(directory: DataDirectory, catalog: String?, catalogSetting: String, blobs: String?,
                                   blobsSetting: String, vectors: String?, vectorsSetting: String,
                                   environment: [String: String], passwordAllowed: Bool) throws -> StorageLocation {
        var location = StorageLocation(directory: directory)
        if let catalog, !catalog.isEmpty {
            let scheme = URLComponents(string: catalog)?.scheme?.lowercased()
            switch scheme {
            case "postgres", "postgresql":
                location.catalog = .postgres(try PostgresConfiguration(
                    url: catalog, setting: catalogSetting, environment: environment, passwordAllowed: passwordAllowed))
            default:
                throw CatalogError.invalidArgument(
                    "\(catalogSetting): \"\(scheme.map { "\($0)://" } ?? String(catalog.prefix(40)))\" is not a catalog backend (postgres://USER@HOST/DB, or leave it out for the data directory's SQLite file)")
            }
        }
        if let blobs, !blobs.isEmpty {
            let scheme = URLComponents(string: blobs)?.scheme?.lowercased()
            switch scheme {
            case "s3":
                location.blobs = .s3(try S3Configuration(url: blobs, setting: blobsSetting, environment: environment))
            default:
                throw CatalogError.invalidArgument(
                    "\(blobsSetting): \"\(scheme.map { "\($0)://" } ?? String(blobs.prefix(40)))\" is not a blob backend (s3://BUCKET/PREFIX?endpoint=…, or leave it out for the data directory's images/)")
            }
        }
        if let vectors, !vectors.isEmpty {
            let scheme = URLComponents(string: vectors)?.scheme?.lowercased()
            switch scheme {
            case "milvus":
                location.vectors = .milvus(try MilvusConfiguration(
                    url: vectors, setting: vectorsSetting, environment: environment, passwordAllowed: passwordAllowed))
            default:
                throw CatalogError.invalidArgument(
                    "\(vectorsSetting): \"\(scheme.map { "\($0)://" } ?? String(vectors.prefix(40)))\" is not a vector backend (milvus://HOST:19530/COLLECTION, or leave it out for the data directory's index)")
            }
        }
        return location
    }
}
