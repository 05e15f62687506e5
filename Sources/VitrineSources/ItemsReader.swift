import Foundation

/// A source held in memory: products a caller already has (an API write, a test).
public struct ItemsReader: DatasetReader {
    public let source: String
    public let items: [SourceEntry]

    public init(source: String, items: [SourceItem]) {
        self.source = source
        self.items = items.map { .item($0) }
    }

    public func entries() -> AsyncThrowingStream<SourceEntry, Error> {
        AsyncThrowingStream { continuation in
            for entry in items { continuation.yield(entry) }
            continuation.finish()
        }
    }
}
