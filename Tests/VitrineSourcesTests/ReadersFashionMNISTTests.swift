import Foundation
import Testing
import VitrineImage
@testable import VitrineSources

/// Runs a shell pipeline and returns its standard output (gzip is the independent reference here).
func shell(_ command: String) throws -> Data {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/bin/sh")
    process.arguments = ["-c", command]
    let pipe = Pipe()
    process.standardOutput = pipe
    try process.run()
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return data
}

@Suite("Fashion-MNIST reader (Debian's dataset-fashion-mnist)")
struct ReadersFashionMNISTTests {
    static let directory = FashionMNISTReader.defaultDirectory
    static var installed: Bool { FileManager.default.fileExists(atPath: directory.appendingPathComponent("t10k-labels-idx1-ubyte.gz").path) }

    @Test("the first items match the label file; PNGs decode to the exact pixels")
    func firstItems() async throws {
        try #require(Self.installed, "install dataset-fashion-mnist (scripts/install-deps.sh)")
        let labelsPath = Self.directory.appendingPathComponent("train-labels-idx1-ubyte.gz").path
        let imagesPath = Self.directory.appendingPathComponent("train-images-idx3-ubyte.gz").path
        let count = 6
        let labels = [UInt8](try shell("gzip -dc '\(labelsPath)' | head -c \(8 + count)").dropFirst(8))
        let raw = [UInt8](try shell("gzip -dc '\(imagesPath)' | head -c \(16 + 784 * count)").dropFirst(16))
        try #require(labels.count == count && raw.count == 784 * count)

        let reader = FashionMNISTReader(directory: Self.directory, split: .train)
        #expect(reader.source == "fashion-mnist:" + Self.directory.path)
        var items: [SourceItem] = []
        for try await entry in reader.entries() {
            guard case .item(let item) = entry else { continue }
            items.append(item)
            if items.count == count { break }
        }
        #expect(items.count == count)
        for (index, item) in items.enumerated() {
            let label = Int(labels[index])
            let className = FashionMNISTReader.classNames[label]
            #expect(item.product.id == String(format: "fmnist-train-%05d", index))
            #expect(item.product.name == "\(className) \(index)")
            #expect(item.product.category == String(label))
            #expect(item.product.categoryName == className)
            #expect(item.product.source == reader.source)
            let png = try await item.images[0].load()
            #expect(png.starts(with: [0x89, 0x50, 0x4E, 0x47]))
            let decoded = try ImageDecoder().decode(png)
            #expect(decoded.width == 28 && decoded.height == 28)
            let expected = raw[(784 * index)..<(784 * (index + 1))].flatMap { [$0, $0, $0] }
            #expect(decoded.pixels == expected)
        }
        #expect(Set(items.map(\.product.category)).count > 1)  // not one class repeated

        var first: SourceItem?
        for try await entry in FashionMNISTReader(directory: Self.directory, split: .test).entries() {
            if case .item(let item) = entry { first = item }
            break
        }
        #expect(first?.product.id == "fmnist-test-00000")
    }

    @Test("60000 train and 10000 test entries, no rejections")
    func counts() async throws {
        try #require(Self.installed, "install dataset-fashion-mnist (scripts/install-deps.sh)")
        for (split, expected) in [(DatasetSplit.train, 60000), (.test, 10000)] {
            var items = 0, rejected = 0
            var lastID = ""
            for try await entry in FashionMNISTReader(directory: Self.directory, split: split).entries() {
                switch entry {
                case .item(let item):
                    items += 1
                    lastID = item.product.id
                case .rejected: rejected += 1
                }
            }
            #expect(items == expected)
            #expect(rejected == 0)
            #expect(lastID == String(format: "fmnist-%@-%05d", split == .train ? "train" : "test", expected - 1))
        }
    }

    /// Writes `bytes` gzipped to `name` in `folder`.
    func writeGzip(_ bytes: [UInt8], _ name: String, in folder: TemporaryFolder) throws {
        let plain = try folder.write(name + ".raw", Data(bytes))
        _ = try shell("gzip -c '\(plain.path)' > '\(folder.url.appendingPathComponent(name).path)'")
    }

    static func header(_ values: [UInt32]) -> [UInt8] {
        values.flatMap { value in [24, 16, 8, 0].map { UInt8(truncatingIfNeeded: value >> $0) } }
    }

    @Test("bad magic, truncated gzip, short IDX data and mismatched counts give clear errors")
    func badFiles() async throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let images = folder.url.appendingPathComponent("t10k-images-idx3-ubyte.gz")
        let labels = folder.url.appendingPathComponent("t10k-labels-idx1-ubyte.gz")
        let reader = FashionMNISTReader(directory: folder.url, split: .test)

        // Two images of 2×3 declared and present; labels fine.
        try writeGzip(Self.header([2049, 2]) + [3, 11], "t10k-labels-idx1-ubyte.gz", in: folder)
        try writeGzip(Self.header([2051, 2, 2, 3]) + [UInt8](0..<12), "t10k-images-idx3-ubyte.gz", in: folder)
        let result = try await readAll(reader)
        #expect(result.products == ["fmnist-test-00000"])
        #expect(result.rejections.first?.reason.contains("label 11") == true)
        let decoded = try ImageDecoder().decode(try await result.items[0].images[0].load())
        #expect(decoded.width == 3 && decoded.height == 2)
        #expect(decoded.pixels == (0..<6).flatMap { [UInt8($0), UInt8($0), UInt8($0)] })

        try writeGzip(Self.header([2049, 2]) + [1, 1], "t10k-images-idx3-ubyte.gz", in: folder)
        #expect(await streamError(reader) as? ReaderError == .invalidFormat(path: images.path, reason: "bad IDX magic number 2049, expected 2051"))

        try writeGzip(Self.header([2051, 5, 2, 3]) + [UInt8](0..<12), "t10k-images-idx3-ubyte.gz", in: folder)
        try writeGzip(Self.header([2049, 5]) + [1, 2, 3, 4, 5], "t10k-labels-idx1-ubyte.gz", in: folder)
        #expect(await streamError(reader) as? ReaderError == .invalidFormat(path: images.path, reason: "truncated: ends at image 2 of 5"))

        try writeGzip(Self.header([2049, 4]) + [1, 2, 3, 4], "t10k-labels-idx1-ubyte.gz", in: folder)
        let mismatch = await streamError(reader)
        #expect(String(describing: mismatch ?? ReaderError.notFound(path: "")).contains("5 images but 4 labels"))

        try writeGzip(Self.header([2051, 1, 0, 3]), "t10k-images-idx3-ubyte.gz", in: folder)
        #expect(String(describing: await streamError(reader) ?? ReaderError.notFound(path: "")).contains("bad IDX dimensions 1×0×3"))

        // A gzip file cut in half: 10000 labels announced, the stream breaks off partway.
        var labelBytes = Self.header([2049, 10000])
        labelBytes += (0..<10000).map { UInt8($0 % 10) }
        try writeGzip(labelBytes, "t10k-labels-idx1-ubyte.gz", in: folder)
        try writeGzip(Self.header([2051, 10000, 1, 1]) + [UInt8](repeating: 9, count: 10000), "t10k-images-idx3-ubyte.gz", in: folder)
        #expect(try await readAll(reader).items.count == 10000)  // whole, it reads
        let gzipped = try Data(contentsOf: labels)
        try gzipped.prefix(gzipped.count / 2).write(to: labels)
        guard case .invalidFormat(let path, let reason)? = await streamError(reader) as? ReaderError else {
            Issue.record("a truncated gzip file was not reported")
            return
        }
        #expect(path == labels.path)
        #expect(reason.contains("truncated"))

        try Data("not gzip at all".utf8).write(to: images)
        #expect(String(describing: await streamError(reader) ?? ReaderError.notFound(path: "")).contains("not valid gzip data"))
    }
}

@Suite("PNG encoder")
struct ReadersPNGEncoderTests {
    @Test("gray, gray+alpha, RGB and RGBA round-trip through ImageDecoder")
    func roundTrip() throws {
        var generator = SystemRandomNumberGenerator()
        let (width, height) = (17, 9)
        let values = (0..<(width * height * 4)).map { _ in UInt8.random(in: 0...255, using: &generator) }
        let gray = Array(values.prefix(width * height))
        #expect(try ImageDecoder().decode(PNGEncoder().encode(pixels: gray, width: width, height: height, layout: .gray)).pixels
                == gray.flatMap { [$0, $0, $0] })
        let rgb = Array(values.prefix(width * height * 3))
        #expect(try ImageDecoder().decode(PNGEncoder().encode(pixels: rgb, width: width, height: height, layout: .rgb)).pixels == rgb)
        // Opaque alpha: compositing onto white leaves the colours unchanged.
        var rgba = values
        for index in stride(from: 3, to: rgba.count, by: 4) { rgba[index] = 255 }
        let decoded = try ImageDecoder().decode(PNGEncoder().encode(pixels: rgba, width: width, height: height, layout: .rgba))
        #expect(decoded.pixels == stride(from: 0, to: rgba.count, by: 4).flatMap { rgba[$0..<($0 + 3)] })
        #expect(throws: ImageError.self) { try PNGEncoder().encode(pixels: gray, width: width, height: height + 1, layout: .gray) }
        #expect(throws: ImageError.self) { try PNGEncoder().encode(pixels: [], width: 0, height: 0, layout: .gray) }
    }
}
