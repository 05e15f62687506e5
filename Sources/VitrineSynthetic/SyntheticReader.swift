import Foundation
import VitrineCatalog
import VitrineSources

/// A source of `count` generated products, `syn-0000000` on, one ``SyntheticPhoto`` each, named
/// and categorized like a small catalog (ten categories, three markets).
///
/// Products are made as the pipeline pulls them and each photo is encoded when it is loaded, as
/// the real readers read rows and fetch files: a source that built all N up front would show up
/// as memory growing with N, and PNG encoding would move out of the stage that decodes.
public struct SyntheticReader: DatasetReader {
    public let count: Int
    public var source: String { "synthetic:\(count)" }

    public init(count: Int) { self.count = count }

    public func entries() -> AsyncThrowingStream<SourceEntry, Error> {
        let count = count
        let counter = Counter()
        return AsyncThrowingStream(unfolding: {
            let i = counter.next()
            guard i < count else { return nil }
            return .item(Self.item(i, of: count))
        })
    }

    /// Product `index` of a source of `count`.
    public static func item(_ index: Int, of count: Int) -> SourceItem {
        let product = Product(id: String(format: "syn-%07d", index), name: "Synthetic \(index)", description: "generated",
                              category: String(index % 10), categoryName: "class \(index % 10)",
                              market: ["cz", "sk", "ro"][index % 3], source: "synthetic:\(count)")
        let image = SourceImage(id: "0", origin: "synthetic:\(index)") { try SyntheticPhoto.png(seed: UInt64(index)) }
        return SourceItem(product: product, images: [image])
    }

    /// The next product index; the stream's closure may be called from any thread.
    private final class Counter: @unchecked Sendable {
        private var value = 0
        private let lock = NSLock()
        func next() -> Int { lock.withLock { defer { value += 1 }; return value } }
    }
}
