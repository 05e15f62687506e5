import Foundation
import Testing
import VitrineCatalog
@testable import VitrinePostgres
@testable import VitrineS3

// The backends each conformance test runs against: the embedded ones always, PostgreSQL and S3
// when scripts/servers.sh started them (scripts/test.sh does; it fails when a server is installed
// but does not start). Each test gets a store of its own: a temporary directory, a PostgreSQL
// schema, an S3 bucket.

enum TestServers {
    static let environment = ProcessInfo.processInfo.environment

    /// The PostgreSQL test database, or nil (then the Postgres cases are left out, and
    /// ``ServerAvailabilityTests`` shows as skipped).
    static var postgres: PostgresConfiguration? {
        guard let url = environment["VITRINE_TEST_POSTGRES_URL"] else { return nil }
        var env = environment
        env["PGPASSWORD"] = environment["VITRINE_TEST_POSTGRES_PASSWORD"]
        return try? PostgresConfiguration(url: url, setting: "VITRINE_TEST_POSTGRES_URL", environment: env, passwordAllowed: false)
    }

    /// A configuration for a bucket of its own on the S3 test server, or nil.
    static func s3(bucket: String = uniqueName("t-")) -> S3Configuration? {
        guard let endpoint = environment["VITRINE_TEST_S3_ENDPOINT"], let url = URL(string: endpoint),
              let access = environment["VITRINE_TEST_S3_ACCESS_KEY"], let secret = environment["VITRINE_TEST_S3_SECRET_KEY"] else {
            return nil
        }
        return S3Configuration(bucket: bucket, prefix: "photos", endpoint: url,
                               credentials: .init(accessKey: access, secretKey: secret), partSize: 5 << 20, timeout: 20)
    }

    static func uniqueName(_ prefix: String) -> String {
        prefix + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "").prefix(20)
    }
}

@Suite struct ServerAvailabilityTests {
    @Test(.disabled(if: TestServers.postgres != nil, "PostgreSQL is configured"))
    func postgresIsNotConfigured() {
        print("PostgreSQL tests skipped: VITRINE_TEST_POSTGRES_URL is not set (scripts/servers.sh start, then source .servers/env)")
    }

    @Test(.disabled(if: TestServers.s3() != nil, "S3 is configured"))
    func s3IsNotConfigured() {
        print("S3 tests skipped: VITRINE_TEST_S3_ENDPOINT is not set (scripts/servers.sh start, then source .servers/env)")
    }
}

/// A catalog implementation the conformance suite runs on.
enum CatalogBackend: String, CaseIterable, CustomTestStringConvertible, Sendable {
    case sqlite, postgres

    static var available: [CatalogBackend] { TestServers.postgres == nil ? [.sqlite] : allCases }

    var testDescription: String { rawValue }

    /// A new, empty catalog of this backend.
    func make() throws -> CatalogFixture {
        switch self {
        case .sqlite:
            let dir = try TemporaryDirectory()
            return CatalogFixture(backend: self, directory: dir, postgres: nil)
        case .postgres:
            var configuration = try #require(TestServers.postgres)
            configuration.schema = TestServers.uniqueName("t_")
            return CatalogFixture(backend: self, directory: nil, postgres: configuration)
        }
    }
}

/// One test's catalog: opened (again) for writing or reading, dropped at the end.
final class CatalogFixture {
    let backend: CatalogBackend
    let directory: TemporaryDirectory?
    let postgres: PostgresConfiguration?
    private var opened: [any Catalog] = []

    init(backend: CatalogBackend, directory: TemporaryDirectory?, postgres: PostgresConfiguration?) {
        self.backend = backend
        self.directory = directory
        self.postgres = postgres
    }

    /// The catalog's location as errors name it.
    var location: String {
        if let directory { return DataDirectory(directory.url).catalogURL.path }
        return "PostgreSQL \(postgres!.displayURL)"
    }

    func open(readOnly: Bool = false) throws -> any Catalog {
        let catalog: any Catalog
        if let directory {
            catalog = try SQLiteCatalog(path: DataDirectory(directory.url).catalogURL, readOnly: readOnly)
        } else {
            catalog = try PostgresCatalog(postgres!, readOnly: readOnly)
        }
        opened.append(catalog)
        return catalog
    }

    /// Closes what was opened and removes the directory or drops the schema.
    func dispose() {
        for catalog in opened { try? catalog.close() }
        directory?.cleanup()
        if let postgres {
            let pool = PostgresPool(postgres)
            _ = try? pool.withConnection(idempotent: false) { session in
                try session.execute(.init(unsafeSQL: "DROP SCHEMA IF EXISTS \(postgres.schema) CASCADE"))
            }
            pool.shutdown()
        }
    }
}

/// A blob store implementation the conformance suite runs on.
enum BlobBackend: String, CaseIterable, CustomTestStringConvertible, Sendable {
    case files, s3

    static var available: [BlobBackend] { TestServers.s3() == nil ? [.files] : allCases }

    var testDescription: String { rawValue }

    func make() throws -> (store: any BlobStore, dispose: () -> Void) {
        switch self {
        case .files:
            let dir = try TemporaryDirectory()
            return (try FileBlobStore(directory: dir.url.appendingPathComponent("images")), { dir.cleanup() })
        case .s3:
            let store = try S3BlobStore(try #require(TestServers.s3()), createBucket: true)
            return (store, {})
        }
    }
}

/// A fresh directory under the system temporary directory, removed by `cleanup()`.
struct TemporaryDirectory {
    let url: URL

    init() throws {
        url = FileManager.default.temporaryDirectory
            .appendingPathComponent("vitrine-storage-tests-\(UUID().uuidString)", isDirectory: true)
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    func cleanup() {
        // Tests may have made parts read-only.
        chmod(url.path, 0o755)
        try? FileManager.default.removeItem(at: url)
    }
}

/// Whether the tests run as root, which ignores file permissions.
var runningAsRoot: Bool { getuid() == 0 }

/// A syntactically valid blob key derived from a small number (tests of the catalog need keys,
/// not blobs).
func blobKey(_ n: Int, ext: String = "jpg") -> BlobKey {
    let hex = String(format: "%064x", n)
    guard let key = BlobKey("\(hex).\(ext)") else { fatalError("test key \(hex) invalid") }
    return key
}

func sampleProduct(
    _ id: String, name: String? = nil, description: String = "", category: String? = "dress",
    categoryName: String? = "Dresses", market: String? = "cz", source: String = "glami",
    extra: [String: String] = [:], images: Int = 2, keyBase: Int = 0
) -> Product {
    Product(
        id: id, name: name ?? "Product \(id)", description: description, category: category,
        categoryName: categoryName, market: market, source: source, extra: extra,
        images: (0..<images).map { ProductImage(id: "\($0)", key: blobKey(keyBase + $0), width: 100 + $0, height: 200) })
}

/// Runs `body` and returns the `CatalogError` it threw (nil when it did not throw one).
func catalogError(_ body: () throws -> Void) -> CatalogError? {
    do {
        try body()
        return nil
    } catch let error as CatalogError {
        return error
    } catch {
        Issue.record("expected a CatalogError, got \(type(of: error)): \(error)")
        return nil
    }
}
