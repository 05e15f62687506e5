import Foundation
import Testing
@testable import VitrineSources

@Suite("Dataset format detection")
struct ReadersFormatTests {
    @Test("detects each format and makes the matching reader")
    func detection() throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let dataset = try GLAMIFixture.write(into: TemporaryFolder(url: folder.url.appendingPathComponent("g")))
        let zipURL = folder.url.appendingPathComponent("glami.zip")
        try GLAMIFixture.zip(dataset, to: zipURL)
        let photos = folder.url.appendingPathComponent("photos")
        try TemporaryFolder(url: photos).write("a.jpg", ReaderFixtures.bytes("baseline.jpg"))
        let csv = try folder.write("m.csv", text: "id,image\n")
        let jsonl = try folder.write("m.JSONL", text: "")
        let json = try folder.write("m.json", text: "[]")
        let fmnist = folder.url.appendingPathComponent("fm")
        for name in ["t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"] {
            try TemporaryFolder(url: fmnist).write(name, Data())
        }

        #expect(try DatasetFormat.detect(dataset) == .glami)
        #expect(try DatasetFormat.detect(dataset.deletingLastPathComponent()) == .glami)
        #expect(try DatasetFormat.detect(zipURL) == .glami)
        #expect(try DatasetFormat.detect(fmnist) == .fashionMNIST)
        #expect(try DatasetFormat.detect(photos) == .folder)
        #expect(try DatasetFormat.detect(csv) == .manifest)
        #expect(try DatasetFormat.detect(jsonl) == .manifest)
        #expect(try DatasetFormat.detect(json) == .manifest)
        if FileManager.default.fileExists(atPath: FashionMNISTReader.defaultDirectory.path) {
            #expect(try DatasetFormat.detect(FashionMNISTReader.defaultDirectory) == .fashionMNIST)
        }

        let missing = folder.url.appendingPathComponent("missing")
        #expect(throws: ReaderError.notFound(path: missing.path)) { try DatasetFormat.detect(missing) }
        let text = try folder.write("notes.txt", text: "hi")
        #expect(throws: ReaderError.self) { try DatasetFormat.detect(text) }
        let otherZip = folder.url.appendingPathComponent("other.zip")
        try GLAMIFixture.zipFolder(photos, to: otherZip)
        do {
            _ = try DatasetFormat.detect(otherZip)
            Issue.record("a zip without GLAMI CSVs was accepted")
        } catch {
            #expect(String(describing: error).contains("without GLAMI-1M"))
        }

        let options = ReaderOptions(manifestMapping: ManifestMapping(id: "sku"), split: .test)
        let glami = try #require(try DatasetFormat.glami.makeReader(url: zipURL, options: options) as? GLAMIReader)
        #expect(glami.split == .test)
        let manifest = try #require(try DatasetFormat.manifest.makeReader(url: csv, options: options) as? ManifestReader)
        #expect(manifest.mapping.id == "sku")
        #expect(try DatasetFormat.folder.makeReader(url: photos, options: options) is FolderReader)
        #expect(try DatasetFormat.fashionMNIST.makeReader(url: fmnist, options: options) is FashionMNISTReader)
        #expect(DatasetFormat(rawValue: "fashion-mnist") == .fashionMNIST)
    }
}

extension TemporaryFolder {
    /// A folder at a given place (created), for fixtures inside another temporary folder.
    init(url: URL) throws {
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        self.url = url
    }
}
