import Foundation
import GRDB
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The product catalog in SQLite: products, their images, a full-text index over name and
/// description, and the data directory's bookkeeping (vector-store sequence, generation, model
/// record).
///
/// It is a GRDB `DatabasePool` in WAL mode: reads run concurrently with each other and with the
/// writer, and catalogs opened read-only in other processes see each commit as soon as it is
/// made. Every write method is one transaction. Writers should hold the data directory's
/// ``WriterLock``; the catalog itself does not take it.
public final class SQLiteCatalog: Catalog, @unchecked Sendable {
    /// The SQLite file.
    public let url: URL
    /// Whether this catalog was opened for reading only.
    public let isReadOnly: Bool
    let pool: DatabasePool
    /// Whether ``close()`` ran (a second call does nothing).
    private let closing = Mutex(false)
    /// Full-text search's ranking in memory (``keepTextSearchInMemory()``), and its builds.
    let keywordMemory = Mutex(KeywordMemory())
    let keywordBuilds = DispatchGroup()
    var path: String { url.path }

    /// Opens the catalog at `path`.
    ///
    /// - Parameters:
    ///   - path: the SQLite file (a data directory's ``DataDirectory/catalogURL``).
    ///   - readOnly: false creates the file (and its directory) if needed and migrates the
    ///     schema; true opens an existing catalog for reading only.
    /// - Throws: ``CatalogError/notFound(path:)`` (read-only, file absent),
    ///   ``CatalogError/readOnly(path:)`` (opened for writing where it cannot write),
    ///   ``CatalogError/schemaTooNew(path:found:supported:)`` (written by a newer build),
    ///   ``CatalogError/corrupted(path:reason:)`` (not a Vitrine catalog).
    public init(path: URL, readOnly: Bool = false) throws {
        url = path.standardizedFileURL
        isReadOnly = readOnly
        let filePath = url.path
        let folder = url.deletingLastPathComponent()
        let fileExists = FileManager.default.fileExists(atPath: filePath)

        if readOnly {
            guard fileExists else { throw CatalogError.notFound(path: filePath) }
        } else {
            // SQLite would report these as a bare "unable to open database file" (or only at
            // the first write): check first so the error names the path that is not writable.
            if !FileManager.default.fileExists(atPath: folder.path) {
                do {
                    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
                } catch {
                    throw CatalogError.fromFoundation(error, path: folder.path, doing: "create directory")
                }
            }
            if access(folder.path, W_OK) != 0 { throw CatalogError.readOnly(path: folder.path) }
            if fileExists, access(filePath, W_OK) != 0 { throw CatalogError.readOnly(path: filePath) }
        }

        var configuration = Configuration()
        configuration.readonly = readOnly
        configuration.foreignKeysEnabled = true
        // A reader in another process may briefly hold the WAL during a checkpoint: wait
        // rather than fail.
        configuration.busyMode = .timeout(10)
        configuration.label = "VitrineCatalog"
        // The full-text index's triggers fold text through this function (schema v2).
        configuration.prepareDatabase { db in db.add(function: TextFolding.sqlFunction) }
        do {
            pool = try DatabasePool(path: filePath, configuration: configuration)
        } catch {
            throw Self.translate(error, path: filePath)
        }

        do {
            try Self.checkVersion(pool: pool, path: filePath, readOnly: readOnly)
            if !readOnly { try CatalogSchema.migrator.migrate(pool) }
        } catch {
            try? pool.close()
            throw Self.translate(error, path: filePath)
        }
    }

    /// Refuses catalogs from a newer build, and (read-only) files that are not catalogs.
    private static func checkVersion(pool: DatabasePool, path: String, readOnly: Bool) throws {
        let (version, hasMeta, hasTables) = try pool.read { db -> (Int, Bool, Bool) in
            let version = try Int.fetchOne(db, sql: "PRAGMA user_version") ?? 0
            let hasMeta = try db.tableExists("meta")
            let hasTables = try Int.fetchOne(db, sql: "SELECT count(*) FROM sqlite_master") ?? 0 > 0
            return (version, hasMeta, hasTables)
        }
        if version > CatalogSchema.version {
            throw CatalogError.schemaTooNew(path: path, found: version, supported: CatalogSchema.version)
        }
        if readOnly {
            guard hasMeta else {
                throw CatalogError.corrupted(path: path, reason: "it is not a Vitrine catalog (no meta table)")
            }
            if version < CatalogSchema.oldestReadable {
                throw CatalogError.corrupted(
                    path: path,
                    reason: "schema version \(version) is older than \(CatalogSchema.oldestReadable); open it once for writing to upgrade it")
            }
        } else if hasTables && !hasMeta {
            // Never migrate someone else's database into a catalog.
            throw CatalogError.corrupted(path: path, reason: "it is an SQLite database but not a Vitrine catalog")
        }
    }

    public static let kind = "sqlite"
    public var backend: StoreBackend { StoreBackend(kind: Self.kind, location: path) }

    /// The writer lock of the data directory the file lies in (`writer.lock` beside it).
    public func acquireWriterLease(holder: String, shard: Shard?) throws -> any WriterLease {
        try WriterLock.acquire(DataDirectory(url.deletingLastPathComponent()), holder: holder)
    }

    /// Closes the database connections. Later calls throw. Optional: deinit closes too. A
    /// writable catalog first moves its write-ahead log into the file (readers in other
    /// processes may hold it back, then the log stays and is replayed by the next opener).
    public func close() throws {
        let first = closing.withLock { (closed: inout Bool) -> Bool in
            defer { closed = true }
            return !closed
        }
        guard first else { return }
        // A build of the in-memory keyword index stops at its next check, and ends before the
        // connections close.
        keywordMemory.withLock { $0.closed = true }
        keywordBuilds.wait()
        if !isReadOnly { _ = try? pool.writeWithoutTransaction { try $0.checkpoint(.truncate) } }
        do { try pool.close() } catch { throw Self.translate(error, path: path) }
    }

    /// The schema version this build reads and writes (`PRAGMA user_version`).
    public static var schemaVersion: Int { CatalogSchema.version }

    // MARK: - Running statements

    func read<T>(_ body: (Database) throws -> T) throws -> T {
        do { return try pool.read(body) } catch { throw Self.translate(error, path: path) }
    }

    func write<T>(_ body: (Database) throws -> T) throws -> T {
        if isReadOnly { throw CatalogError.readOnly(path: path) }
        do { return try pool.write(body) } catch { throw Self.translate(error, path: path) }
    }

    /// Turns SQLite and decoding errors into ``CatalogError``s naming the file.
    static func translate(_ error: Error, path: String) -> CatalogError {
        if let error = error as? CatalogError { return error }
        if let error = error as? DatabaseError {
            let reason = error.message ?? "\(error.resultCode)"
            switch error.resultCode {
            // SQLite's unix VFS reports ENOSPC on writes as SQLITE_FULL.
            case .SQLITE_FULL: return .diskFull(path: path)
            case .SQLITE_READONLY, .SQLITE_PERM, .SQLITE_AUTH: return .readOnly(path: path)
            case .SQLITE_CORRUPT, .SQLITE_NOTADB, .SQLITE_FORMAT: return .corrupted(path: path, reason: reason)
            case .SQLITE_CANTOPEN:
                return .io(path: path, reason: "cannot open the database file (\(reason)); readers need the -wal and -shm files or a writable directory")
            case .SQLITE_BUSY, .SQLITE_LOCKED:
                return .io(path: path, reason: "the database is busy (another writer?): \(reason)")
            default:
                return .io(path: path, reason: reason)
            }
        }
        if error is RowDecodingError {
            return .corrupted(path: path, reason: "unexpected value in a row: \(error)")
        }
        return .io(path: path, reason: "\(error)")
    }
}
