import Foundation
import Testing
import VitrineCatalog
@testable import VitrineSources
import ZIPFoundation

/// A small GLAMI-1M in its exact layout: the two CSVs and `images/{image_id}.jpg`.
struct GLAMIFixture {
    static let header = "item_id,image_id,name,description,geo,category,category_name,label_source"
    // CRLF line ends; a quoted name with a comma, doubled quotes and a line break inside quotes.
    static let test = header + "\r\n"
        + "1001,501,\"Dress, red\",\"A \"\"summer\"\" dress\nwith two lines\",cz,12,dress,quality-human\r\n"
        + "1002,502,Shoes,,sk,13,shoes,admin\r\n"
    static let trainRows: [[UInt8]] = [
        Array((header + "\n").utf8),
        Array("2001,601,Coat,warm,ro,14,coat,custom-tag\n".utf8),  // line 2
        Array("2002,602,Bad geo,x,xx,14,coat,custom\n".utf8),     // 3: geo
        Array("1001,603,Again,x,cz,12,dress,q\n".utf8),           // 4: duplicate of the test CSV's
        Array("2003,604,Short,x\n".utf8),                         // 5: column count
        Array(",605,No id,x,cz,1,a,b\n".utf8),                    // 6: empty item_id
        Array("2004,606,Bad ".utf8) + [0xFF, 0xFE] + Array(" text,x,cz,1,a,b\n".utf8),  // 7: not UTF-8
        Array("2005,607,Missing image,x,hu,15,bag,q\n".utf8),     // 8: no 607.jpg
        Array("2006,608,\"Trailing \"x,y,lt,15,bag,q\n".utf8),    // 9: text after a closing quote
        Array("2007,609,Last,\"\",ee,16,top,q".utf8),             // 10: no final line end
    ]
    static let imageFiles = ["501": "baseline.jpg", "502": "progressive.jpg", "601": "gray.jpg", "609": "orient_1.jpg"]

    /// Writes `GLAMI-1M-dataset/` under `folder`; returns that dataset folder.
    @discardableResult
    static func write(into folder: TemporaryFolder) throws -> URL {
        try folder.write("GLAMI-1M-dataset/GLAMI-1M-test.csv", text: test)
        try folder.write("GLAMI-1M-dataset/GLAMI-1M-train.csv", Data(trainRows.joined()))
        for (id, fixture) in imageFiles {
            try folder.write("GLAMI-1M-dataset/images/\(id).jpg", ReaderFixtures.bytes(fixture))
        }
        return folder.url.appendingPathComponent("GLAMI-1M-dataset")
    }

    /// The same content zipped (deflated), as `GLAMI-1M-dataset--test-only.zip` is laid out.
    static func zip(_ dataset: URL, to zipURL: URL) throws {
        let archive = try Archive(url: zipURL, accessMode: .create)
        let parent = dataset.deletingLastPathComponent()
        var paths = ["GLAMI-1M-dataset/GLAMI-1M-test.csv", "GLAMI-1M-dataset/GLAMI-1M-train.csv"]
        paths += imageFiles.keys.sorted().map { "GLAMI-1M-dataset/images/\($0).jpg" }
        for path in paths {
            try archive.addEntry(with: path, relativeTo: parent, compressionMethod: .deflate)
        }
    }
}

extension GLAMIFixture {
    /// Zips the files directly in `folder`.
    static func zipFolder(_ folder: URL, to zipURL: URL) throws {
        let archive = try Archive(url: zipURL, accessMode: .create)
        for name in try FileManager.default.contentsOfDirectory(atPath: folder.path).sorted() {
            try archive.addEntry(with: name, relativeTo: folder, compressionMethod: .deflate)
        }
    }
}

@Suite("GLAMI-1M reader")
struct ReadersGLAMITests {
    @Test("reads the folder layout: quoted fields, multiline, CRLF, rejections with file:line")
    func folderLayout() async throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let dataset = try GLAMIFixture.write(into: folder)
        let reader = GLAMIReader(url: folder.url)  // the parent folder
        #expect(reader.source == "glami:" + dataset.path)
        let result = try await readAll(reader)

        #expect(result.products == ["1001", "1002", "2001", "2005", "2007"])
        let dress = try #require(result.items.first).product
        #expect(dress.name == "Dress, red")
        #expect(dress.description == "A \"summer\" dress\nwith two lines")
        #expect(dress.market == "cz")
        #expect(dress.category == "12")
        #expect(dress.categoryName == "dress")
        #expect(dress.extra == ["label_source": "quality-human"])
        #expect(dress.source == reader.source)
        #expect(result.items[1].product.description == "")
        #expect(result.items.map { $0.images.map(\.id) } == [["501"], ["502"], ["601"], ["607"], ["609"]])

        let train = dataset.appendingPathComponent("GLAMI-1M-train.csv").path
        let byLocation = Dictionary(uniqueKeysWithValues: result.rejections.map { ($0.location, $0) })
        #expect(result.rejections.count == 6)
        #expect(byLocation["\(train):3"]?.reason.contains("unknown geo 'xx'") == true)
        #expect(byLocation["\(train):4"]?.reason.contains("duplicate item_id 1001") == true)
        #expect(byLocation["\(train):5"]?.reason.contains("expected 8 columns, found 4") == true)
        #expect(byLocation["\(train):6"]?.reason.contains("empty item_id") == true)
        #expect(byLocation["\(train):7"]?.reason.contains("name is not valid UTF-8") == true)
        #expect(byLocation["\(train):9"]?.reason.contains("after a closing quote") == true)

        let loaded = try await result.items[0].images[0].load()
        #expect(loaded == (try ReaderFixtures.bytes("baseline.jpg")))
        // A row whose image file is missing: the load names the path.
        let missing = result.items[3].images[0]
        let path = dataset.appendingPathComponent("images/607.jpg").path
        await #expect(throws: ReaderError.notFound(path: path)) { try await missing.load() }
        #expect(missing.origin == path)
    }

    @Test("the dataset folder itself, and each split alone")
    func splits() async throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let dataset = try GLAMIFixture.write(into: folder)
        let test = try await readAll(GLAMIReader(url: dataset, split: .test))
        #expect(test.products == ["1001", "1002"])
        #expect(test.rejections.isEmpty)
        let train = try await readAll(GLAMIReader(url: dataset, split: .train))
        // Without the test CSV, 1001 is no duplicate.
        #expect(train.products == ["2001", "1001", "2005", "2007"])
    }

    @Test("the zip gives the same entries as the unpacked folder; loads run concurrently")
    func zipEqualsFolder() async throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let dataset = try GLAMIFixture.write(into: folder)
        let zipURL = folder.url.appendingPathComponent("GLAMI-1M-dataset--test-only.zip")
        try GLAMIFixture.zip(dataset, to: zipURL)

        let fromFolder = try await readAll(GLAMIReader(url: dataset))
        let zipReader = GLAMIReader(url: zipURL)
        #expect(zipReader.source == "glami:" + zipURL.path)
        let fromZip = try await readAll(zipReader)

        func comparable(_ product: Product) -> Product {
            var product = product
            product.source = ""
            return product
        }
        #expect(fromZip.items.map { comparable($0.product) } == fromFolder.items.map { comparable($0.product) })
        #expect(fromZip.items.map { $0.images.map(\.id) } == fromFolder.items.map { $0.images.map(\.id) })
        #expect(fromZip.rejections.map(\.reason) == fromFolder.rejections.map(\.reason))
        #expect(fromZip.rejections.map { $0.location.split(separator: ":").last } == fromFolder.rejections.map { $0.location.split(separator: ":").last })

        // Every image, many times over, loaded in parallel from the one archive.
        let images = fromZip.items.flatMap(\.images).filter { $0.id != "607" }
        let expected = try Dictionary(uniqueKeysWithValues: images.map { ($0.id, try ReaderFixtures.bytes(GLAMIFixture.imageFiles[$0.id] ?? "")) })
        try await withThrowingTaskGroup(of: (String, Data).self) { group in
            for _ in 0..<8 {
                for image in images { group.addTask { (image.id, try await image.load()) } }
            }
            for try await (id, data) in group { #expect(data == expected[id]) }
        }
        let missing = try #require(fromZip.items.first { $0.product.id == "2005" }).images[0]
        await #expect(throws: ReaderError.notFound(path: "\(zipURL.path):GLAMI-1M-dataset/images/607.jpg")) { try await missing.load() }
    }

    @Test("a missing dataset, a folder without CSVs and a file that is not a zip end the stream with an error")
    func unreadableSources() async throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let nowhere = folder.url.appendingPathComponent("absent")
        #expect(await streamError(GLAMIReader(url: nowhere)) as? ReaderError == .notFound(path: nowhere.path))
        let empty = folder.url.appendingPathComponent("empty")
        try FileManager.default.createDirectory(at: empty, withIntermediateDirectories: true)
        let error = await streamError(GLAMIReader(url: empty))
        #expect(String(describing: error ?? ReaderError.notFound(path: "")).contains("GLAMI-1M-test.csv"))
        let notZip = try folder.write("fake.zip", text: "not a zip")
        guard case .unreadable(let path, _)? = await streamError(GLAMIReader(url: notZip)) as? ReaderError else {
            Issue.record("expected unreadable")
            return
        }
        #expect(path == notZip.path)
    }

    @Test("a header without GLAMI's columns is refused, naming the column")
    func badHeader() async throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        try folder.write("GLAMI-1M-test.csv", text: "item_id,image_id,name\n1,2,x\n")
        let error = await streamError(GLAMIReader(url: folder.url))
        #expect(String(describing: error ?? ReaderError.notFound(path: "")).contains("no description column"))
    }

    @Test("CSV parser: records split across chunks at every byte give the same result")
    func parserChunking() throws {
        let text = Data(GLAMIFixture.test.utf8) + Data(GLAMIFixture.trainRows.joined())
        var whole = CSVParser(), wholeRecords: [CSVRecord] = []
        whole.feed(text, into: &wholeRecords)
        whole.finish(into: &wholeRecords)
        #expect(wholeRecords.count == 10 + 3)
        for size in [1, 2, 3, 7] {
            var parser = CSVParser(), records: [CSVRecord] = []
            var start = 0
            while start < text.count {
                parser.feed(text.subdata(in: start..<min(start + size, text.count)), into: &records)
                start += size
            }
            parser.finish(into: &records)
            #expect(records.map(\.fields) == wholeRecords.map(\.fields))
            #expect(records.map(\.line) == wholeRecords.map(\.line))
        }
        var parser = CSVParser(), records: [CSVRecord] = []
        parser.feed(Data("a,\"unterminated\nb,c\n".utf8), into: &records)
        parser.finish(into: &records)
        #expect(records.count == 1)
        #expect(records.first?.error?.contains("unterminated") == true)
    }
}
