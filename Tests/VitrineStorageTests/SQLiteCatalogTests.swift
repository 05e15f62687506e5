import Foundation
import GRDB
import Testing
@testable import VitrineCatalog

@Suite struct SQLiteCatalogTests {
    @Test func readOnlyCatalogSeesLaterCommits() throws {
        let dir = try TemporaryDirectory()
        defer { dir.cleanup() }
        let url = DataDirectory(dir.url).catalogURL
        let writer = try SQLiteCatalog(path: url)
        try writer.upsert([sampleProduct("a")], fingerprints: [:], vectorSequence: 1)

        let reader = try SQLiteCatalog(path: url, readOnly: true)
        #expect(reader.isReadOnly)
        #expect(try reader.generation() == 1)
        #expect(try reader.product(id: "b") == nil)

        let b = sampleProduct("b", name: "Modré šaty")
        try writer.upsert([b], fingerprints: [:], vectorSequence: 2)
        #expect(try reader.generation() == 2)
        #expect(try reader.product(id: "b") == b)
        #expect(try reader.textSearch("modre", limit: 5) == ["b"])
        #expect(try reader.vectorSequence() == 2)

        // A plain second connection pool (as another process would open) sees it too.
        var configuration = Configuration()
        configuration.readonly = true
        let otherPool = try DatabasePool(path: url.path, configuration: configuration)
        #expect(try otherPool.read { try Int.fetchOne($0, sql: "SELECT count(*) FROM products") } == 2)
        try writer.delete(ids: ["a"], vectorSequence: 3)
        #expect(try otherPool.read { try String.fetchAll($0, sql: "SELECT id FROM products") } == ["b"])
        #expect(try reader.allProductIDs() == ["b"])

        // Another process (the sqlite3 shell) reads the commit while the writer keeps the file open.
        if FileManager.default.isExecutableFile(atPath: "/usr/bin/sqlite3") {
            let shell = Process()
            shell.executableURL = URL(fileURLWithPath: "/usr/bin/sqlite3")
            shell.arguments = ["-readonly", url.path, "SELECT group_concat(id) FROM products"]
            let output = Pipe()
            shell.standardOutput = output
            try shell.run()
            let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            shell.waitUntilExit()
            #expect(text.trimmingCharacters(in: .whitespacesAndNewlines) == "b")
        }

        // Writes through a read-only catalog are refused with a clear error.
        #expect(catalogError { try reader.upsert([b], fingerprints: [:], vectorSequence: 4) } == .readOnly(path: url.path))
        #expect(catalogError { try reader.setVectorSequence(4) } == .readOnly(path: url.path))
    }

    @Test func readOnlyOpenOfMissingFileNamesIt() throws {
        let dir = try TemporaryDirectory()
        defer { dir.cleanup() }
        let url = dir.url.appendingPathComponent("absent.sqlite")
        let error = catalogError { _ = try SQLiteCatalog(path: url, readOnly: true) }
        #expect(error == .notFound(path: url.path))
        #expect(error?.description.contains(url.path) == true)
        #expect(!FileManager.default.fileExists(atPath: url.path))
    }

    @Test func schemaNewerThanThisBuildIsRefused() throws {
        let dir = try TemporaryDirectory()
        defer { dir.cleanup() }
        let url = dir.url.appendingPathComponent("c.sqlite")
        try SQLiteCatalog(path: url).close()
        let queue = try DatabaseQueue(path: url.path)
        try queue.write { try $0.execute(sql: "PRAGMA user_version = 99") }
        try queue.close()

        for readOnly in [false, true] {
            let error = catalogError { _ = try SQLiteCatalog(path: url, readOnly: readOnly) }
            #expect(error == .schemaTooNew(path: url.path, found: 99, supported: SQLiteCatalog.schemaVersion))
            #expect(error?.description.contains("99") == true)
            #expect(error?.description.contains(url.path) == true)
        }
    }

    @Test func filesThatAreNotCatalogsAreRefused() throws {
        let dir = try TemporaryDirectory()
        defer { dir.cleanup() }
        let garbage = dir.url.appendingPathComponent("garbage.sqlite")
        try Data(repeating: 0x5A, count: 8192).write(to: garbage)
        for readOnly in [false, true] {
            guard case .corrupted(let path, _)? = catalogError({ _ = try SQLiteCatalog(path: garbage, readOnly: readOnly) }) else {
                Issue.record("garbage file (readOnly: \(readOnly)) not reported as corrupted")
                continue
            }
            #expect(path == garbage.path)
        }

        let foreign = dir.url.appendingPathComponent("foreign.sqlite")
        let queue = try DatabaseQueue(path: foreign.path)
        try queue.write { try $0.execute(sql: "CREATE TABLE customers(id INTEGER)") }
        try queue.close()
        for readOnly in [false, true] {
            guard case .corrupted(let path, let reason)? = catalogError({ _ = try SQLiteCatalog(path: foreign, readOnly: readOnly) }) else {
                Issue.record("foreign database (readOnly: \(readOnly)) not reported as corrupted")
                continue
            }
            #expect(path == foreign.path)
            #expect(reason.contains("not a Vitrine catalog"))
        }
    }

    @Test(.enabled(if: !runningAsRoot, "root ignores directory permissions"))
    func readOnlyDirectoryGivesReadOnlyError() throws {
        let dir = try TemporaryDirectory()
        defer { dir.cleanup() }
        let data = dir.url.appendingPathComponent("data", isDirectory: true)
        try FileManager.default.createDirectory(at: data, withIntermediateDirectories: true)
        chmod(data.path, 0o555)
        let url = DataDirectory(data).catalogURL
        let error = catalogError { _ = try SQLiteCatalog(path: url) }
        #expect(error == .readOnly(path: data.path))
        #expect(catalogError { _ = try WriterLock.acquire(DataDirectory(data), holder: "test") } == .readOnly(path: DataDirectory(data).writerLockURL.path))
    }

    @Test(.enabled(if: !runningAsRoot, "root ignores directory permissions"))
    func existingCatalogInReadOnlyDirectory() throws {
        let dir = try TemporaryDirectory()
        defer { dir.cleanup() }
        let data = DataDirectory(dir.url.appendingPathComponent("data", isDirectory: true))
        do {
            let catalog = try SQLiteCatalog(path: data.catalogURL)
            try catalog.upsert([sampleProduct("a")], fingerprints: [:], vectorSequence: 1)
            try catalog.close()
        }
        chmod(data.url.path, 0o555)
        #expect(catalogError { _ = try SQLiteCatalog(path: data.catalogURL) } == .readOnly(path: data.url.path))
        let reader = try SQLiteCatalog(path: data.catalogURL, readOnly: true)
        #expect(try reader.allProductIDs() == ["a"])
    }
}
