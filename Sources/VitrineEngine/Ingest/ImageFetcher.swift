import Foundation
import VitrineCatalog
import VitrineSources

/// The fetch stage: every image of a chunk of items, `concurrentLoads` at a time, each hashed once
/// as it arrives (the hash names the blob and enters the product's fingerprint).
struct ImageFetcher: Sendable {
    var concurrentLoads: Int
    var maxImageBytes: Int

    /// The images of each item, in order; an item fails as a whole when one of its images cannot be
    /// fetched or is over the size limit.
    func fetch(_ items: [SourceItem]) async -> [Result<[HashedData], IngestFailure>] {
        let jobs = items.enumerated().flatMap { i, item in item.images.enumerated().map { (item: i, slot: $0, image: $1) } }
        var images = items.map { [HashedData?](repeating: nil, count: $0.images.count) }
        var errors = [IngestFailure?](repeating: nil, count: items.count)
        let limit = maxImageBytes
        await withTaskGroup(of: (Int, Int, Result<HashedData, IngestFailure>).self) { group in
            var pending = jobs.makeIterator()
            func addNext() -> Bool {
                guard let (item, slot, image) = pending.next() else { return false }
                let id = items[item].product.id
                group.addTask {
                    do {
                        let data = try await image.load()
                        guard data.count <= limit else {
                            return (item, slot, .failure(IngestFailure(id: id, location: image.origin, reason: "image is \(data.count) bytes, more than the limit of \(limit)")))
                        }
                        return (item, slot, .success(HashedData(data)))
                    } catch {
                        return (item, slot, .failure(IngestFailure(id: id, location: image.origin, reason: String(describing: error))))
                    }
                }
                return true
            }
            for _ in 0..<max(1, concurrentLoads) where addNext() {}
            for await (item, slot, result) in group {
                switch result {
                case .success(let image): images[item][slot] = image
                case .failure(let failure): if errors[item] == nil { errors[item] = failure }
                }
                _ = addNext()
            }
        }
        return items.indices.map { i in
            if let error = errors[i] { return .failure(error) }
            let fetched = images[i].compactMap { $0 }
            // Every slot is filled unless a failure was recorded; a gap would be a bug, and it
            // fails its item rather than the run.
            guard fetched.count == images[i].count else {
                return .failure(IngestFailure(id: items[i].product.id, location: items[i].product.source, reason: "not fetched"))
            }
            return .success(fetched)
        }
    }
}
