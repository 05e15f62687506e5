import Foundation
import VitrineCatalog
import VitrineImage

/// Reads Fashion-MNIST from gzipped IDX files, as Debian's `dataset-fashion-mnist` installs them
/// (`train-images-idx3-ubyte.gz`, `train-labels-idx1-ubyte.gz`, `t10k-images-idx3-ubyte.gz`,
/// `t10k-labels-idx1-ubyte.gz`).
///
/// Each image is a product `fmnist-train-00042` named after its class ("Ankle boot 42"), with
/// category = the class index and category_name = the class name; its one image is the 28×28
/// grayscale picture encoded as PNG on load. Files are inflated as they are read: one image
/// (784 bytes) and one label at a time.
public struct FashionMNISTReader: DatasetReader {
    /// Debian's install location.
    public static let defaultDirectory = URL(fileURLWithPath: "/usr/share/datasets/fashion-mnist")
    /// Class names by label.
    public static let classNames = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
    static let imageMagic: UInt32 = 2051
    static let labelMagic: UInt32 = 2049

    /// The two files of a split.
    struct Part: Sendable {
        var name: String  // "train" / "test", in ids
        var images: URL
        var labels: URL
    }

    public let directory: URL
    public let split: DatasetSplit
    public let source: String

    public init(directory: URL = FashionMNISTReader.defaultDirectory, split: DatasetSplit = .all) {
        self.directory = directory.standardizedFileURL
        self.split = split
        source = "fashion-mnist:" + self.directory.path
    }

    var parts: [Part] {
        let train = Part(name: "train", images: directory.appendingPathComponent("train-images-idx3-ubyte.gz"),
                         labels: directory.appendingPathComponent("train-labels-idx1-ubyte.gz"))
        let test = Part(name: "test", images: directory.appendingPathComponent("t10k-images-idx3-ubyte.gz"),
                        labels: directory.appendingPathComponent("t10k-labels-idx1-ubyte.gz"))
        switch split {
        case .train: return [train]
        case .test: return [test]
        case .all: return [train, test]
        }
    }

    /// The image counts in the IDX headers (a few bytes of each file inflated).
    public func expectedCount() -> Int? {
        var total = 0
        for part in parts {
            guard let file = try? IDXFile(url: part.images, magic: Self.imageMagic, rank: 3) else { return nil }
            total += file.count
        }
        return total
    }

    public func entries() -> AsyncThrowingStream<SourceEntry, Error> {
        let parts = self.parts, source = self.source, directory = self.directory
        return entryStream {
            guard FileManager.default.fileExists(atPath: directory.path) else { throw ReaderError.notFound(path: directory.path) }
            return FashionMNISTItems(parts: parts, source: source)
        }
    }
}

/// A gzipped IDX file, header checked, positioned at the first item.
struct IDXFile {
    let reader: GzipReader
    /// Items, and bytes per item.
    let count: Int
    let itemBytes: Int
    let dimensions: [Int]

    /// Opens `url`, checking the magic number (data type unsigned byte, `rank` dimensions).
    init(url: URL, magic: UInt32, rank: Int) throws {
        reader = try GzipReader(url: url)
        guard let head = try reader.read(4) else {
            throw ReaderError.invalidFormat(path: url.path, reason: "IDX file ends before its magic number")
        }
        let found = head.reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
        guard found == magic else {
            throw ReaderError.invalidFormat(path: url.path, reason: "bad IDX magic number \(found), expected \(magic)")
        }
        guard let raw = try reader.read(4 * rank) else {
            throw ReaderError.invalidFormat(path: url.path, reason: "IDX header is truncated")
        }
        dimensions = (0..<rank).map { index in raw[(4 * index)..<(4 * index + 4)].reduce(0) { $0 << 8 | Int($1) } }
        count = dimensions[0]
        let inner = dimensions.dropFirst()
        // 28×28 in Fashion-MNIST; anything up to 1024 a side is read, as a sanity bound.
        guard inner.allSatisfy({ (1...1024).contains($0) }) else {
            throw ReaderError.invalidFormat(path: url.path, reason: "bad IDX dimensions \(dimensions.map(String.init).joined(separator: "×"))")
        }
        itemBytes = inner.reduce(1, *)
    }
}

private final class FashionMNISTItems: EntryProducer {
    private var parts: [FashionMNISTReader.Part]
    private let source: String
    private var current: (part: FashionMNISTReader.Part, images: IDXFile, labels: IDXFile, index: Int)?

    init(parts: [FashionMNISTReader.Part], source: String) {
        self.parts = parts
        self.source = source
    }

    func next() throws -> SourceEntry? {
        while true {
            if current == nil {
                guard !parts.isEmpty else { return nil }
                let part = parts.removeFirst()
                let images = try IDXFile(url: part.images, magic: FashionMNISTReader.imageMagic, rank: 3)
                let labels = try IDXFile(url: part.labels, magic: FashionMNISTReader.labelMagic, rank: 1)
                guard images.count == labels.count else {
                    throw ReaderError.invalidFormat(path: part.images.path, reason: "\(images.count) images but \(labels.count) labels in \(part.labels.lastPathComponent)")
                }
                current = (part, images, labels, 0)
            }
            guard let reading = current else { return nil }
            let part = reading.part, images = reading.images, labels = reading.labels, index = reading.index
            guard index < images.count else {
                current = nil
                continue
            }
            guard let pixels = try images.reader.read(images.itemBytes) else {
                throw ReaderError.invalidFormat(path: part.images.path, reason: "truncated: ends at image \(index) of \(images.count)")
            }
            guard let label = try labels.reader.read(1)?.first else {
                throw ReaderError.invalidFormat(path: part.labels.path, reason: "truncated: ends at label \(index) of \(labels.count)")
            }
            current?.index = index + 1
            let id = "fmnist-\(part.name)-" + Self.padded(index)
            guard Int(label) < FashionMNISTReader.classNames.count else {
                return .rejected(ReaderRejection(location: "\(part.labels.path):\(index)", id: id, reason: "label \(label) is not a Fashion-MNIST class (0-9)"))
            }
            let className = FashionMNISTReader.classNames[Int(label)]
            let product = Product(
                id: id, name: "\(className) \(index)", category: String(label), categoryName: className,
                source: source, extra: ["split": part.name])
            let width = images.dimensions[2], height = images.dimensions[1]
            let image = SourceImage(id: "0", origin: "\(part.images.path)#\(index)") {
                try PNGEncoder().encode(pixels: pixels, width: width, height: height, layout: .gray)
            }
            return .item(SourceItem(product: product, images: [image]))
        }
    }

    static func padded(_ index: Int) -> String {
        let digits = String(index)
        return digits.count >= 5 ? digits : String(repeating: "0", count: 5 - digits.count) + digits
    }
}
