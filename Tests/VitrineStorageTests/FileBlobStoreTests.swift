import Foundation
import Testing
@testable import VitrineCatalog

@Suite struct FileBlobStoreTests {
    /// Every regular file under `url`, relative paths sorted.
    private func files(under url: URL) -> [String] {
        guard let enumerator = FileManager.default.enumerator(atPath: url.path) else { return [] }
        var result: [String] = []
        while let path = enumerator.nextObject() as? String {
            var isDirectory: ObjCBool = false
            if FileManager.default.fileExists(atPath: url.appendingPathComponent(path).path, isDirectory: &isDirectory),
               !isDirectory.boolValue {
                result.append(path)
            }
        }
        return result.sorted()
    }

    /// SHA-256 computed by coreutils, independently of the code under test.
    private func sha256sum(_ data: Data, in dir: URL) throws -> String {
        let file = dir.appendingPathComponent("sha-input-\(UUID().uuidString)")
        try data.write(to: file)
        defer { try? FileManager.default.removeItem(at: file) }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/sha256sum")
        process.arguments = [file.path]
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        return String(text.prefix(64))
    }

    @Test func putIsContentAddressedAndWrittenOnce() throws {
        let dir = try TemporaryDirectory()
        defer { dir.cleanup() }
        let store = try FileBlobStore(directory: dir.url.appendingPathComponent("images"))
        let bytes = Data("a product photo".utf8) + Data((0..<5000).map { UInt8($0 % 251) })
        let key = try store.put(bytes, ext: "jpg")
        #expect(key.sha256 == (try sha256sum(bytes, in: dir.url)))
        #expect(key.ext == "jpg")
        let expected = "\(key.sha256.prefix(2))/\(key.sha256.dropFirst(2).prefix(2))/\(key.sha256).jpg"
        #expect(files(under: store.directory) == [expected])
        #expect(store.url(for: key).path == store.directory.appendingPathComponent(expected).path)
        let written = try FileManager.default.attributesOfItem(atPath: store.url(for: key).path)[.modificationDate] as? Date

        #expect(try store.put(bytes, ext: "jpg") == key)
        #expect(files(under: store.directory) == [expected])  // one file, no temporary left over
        let rewritten = try FileManager.default.attributesOfItem(atPath: store.url(for: key).path)[.modificationDate] as? Date
        #expect(written == rewritten)
        #expect(try store.get(key) == bytes)
        #expect(try store.contains(key))

        // Same bytes with another extension are another blob.
        let png = try store.put(bytes, ext: "png")
        #expect(png.sha256 == key.sha256 && png != key)
        #expect(files(under: store.directory).count == 2)
    }

    @Test func emptyBlob() throws {
        let dir = try TemporaryDirectory()
        defer { dir.cleanup() }
        let store = try FileBlobStore(directory: dir.url)
        let key = try store.put(Data(), ext: "bin")
        #expect(key.sha256 == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(try store.get(key) == Data())
    }

    @Test func missingBlobAndBadExtension() throws {
        let dir = try TemporaryDirectory()
        defer { dir.cleanup() }
        let store = try FileBlobStore(directory: dir.url)
        let missing = blobKey(12345, ext: "webp")
        #expect(catalogError { _ = try store.get(missing) } == .blobNotFound(missing))
        #expect(try !store.contains(missing))
        try store.delete(missing)  // absent keys are ignored

        guard case .invalidArgument(let message)? = catalogError({ _ = try store.put(Data([1]), ext: "exe") }) else {
            Issue.record("unknown extension accepted")
            return
        }
        #expect(message.contains("exe"))
        #expect(catalogError { _ = try store.put(Data([1]), ext: "../jpg") } != nil)
        #expect(files(under: dir.url).isEmpty)
    }

    @Test func keysListWhatWasPutAndDeleteRemoves() throws {
        let dir = try TemporaryDirectory()
        defer { dir.cleanup() }
        let store = try FileBlobStore(directory: dir.url)
        var put: [BlobKey] = []
        for n in 0..<20 {
            put.append(try store.put(Data("blob \(n)".utf8), ext: ["jpg", "png", "webp", "bin"][n % 4]))
        }
        // Strays are not blobs: a temporary file, a misplaced blob, a foreign file.
        let misplaced = blobKey(7)
        let straysDir = dir.url.appendingPathComponent("00/01")
        try FileManager.default.createDirectory(at: straysDir, withIntermediateDirectories: true)
        try Data().write(to: straysDir.appendingPathComponent(misplaced.description + ".x.tmp"))
        try Data().write(to: straysDir.appendingPathComponent("." + misplaced.description + ".1234.tmp"))
        try Data().write(to: dir.url.appendingPathComponent("README"))
        let wrongFolder = dir.url.appendingPathComponent("ff/ff", isDirectory: true)
        try FileManager.default.createDirectory(at: wrongFolder, withIntermediateDirectories: true)
        try Data().write(to: wrongFolder.appendingPathComponent(misplaced.description))

        #expect(try store.keys() == put.sorted())
        #expect(try store.removeLeftovers() == 1)

        for key in put.prefix(5) { try store.delete(key) }
        #expect(try store.keys() == Array(put.dropFirst(5)).sorted())
        #expect(catalogError { _ = try store.get(put[0]) } == .blobNotFound(put[0]))
        #expect(try store.get(put[5]) == Data("blob 5".utf8))
    }

    @Test(arguments: [
        "../x", "../" + String(repeating: "a", count: 61) + ".jpg", String(repeating: "A", count: 64) + ".jpg",
        String(repeating: "a", count: 63) + ".jpg", String(repeating: "a", count: 65) + ".jpg",
        String(repeating: "a", count: 64) + ".gif", String(repeating: "a", count: 64), String(repeating: "a", count: 64) + ".",
        String(repeating: "a", count: 64) + ".jpg.jpg", String(repeating: "g", count: 64) + ".jpg", "", ".jpg",
        String(repeating: "a", count: 64) + ".JPG", "aa/" + String(repeating: "a", count: 61) + ".jpg",
    ])
    func blobKeyParsingRejects(text: String) {
        #expect(BlobKey(text) == nil)
    }

    @Test func blobKeyParsingAccepts() throws {
        let hex = "0123456789abcdef" + String(repeating: "0", count: 48)
        for ext in BlobKey.extensions {
            let key = try #require(BlobKey("\(hex).\(ext)"))
            #expect(key.sha256 == hex && key.ext == ext && key.description == "\(hex).\(ext)")
        }
    }
}
