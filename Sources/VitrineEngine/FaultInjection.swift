import Foundation
import Synchronization

/// Named points between the stores' writes where tests make ingest die as if killed (`kill -9`),
/// to prove every crash window recoverable. Set `VITRINE_FAULT=<point>` or `<point>:<n>` (die on
/// the n-th time the point is reached, default the first). Unset in normal runs: one dictionary
/// lookup at start-up, then a nil check per batch.
final class FaultInjection: Sendable {
    enum Point: String, CaseIterable, Sendable {
        case afterBlobs = "after-blobs"
        case afterMarkStale = "after-mark-stale"
        case afterIndexUpsert = "after-index-upsert"
        case afterIndexDelete = "after-index-delete"
        case afterCatalogCommit = "after-catalog-commit"
        // `vitrine reindex`: after a batch reached the new index, before and after the swap.
        case reindexAfterBatch = "reindex-after-batch"
        case reindexBeforeSwap = "reindex-before-swap"
        case reindexAfterSwap = "reindex-after-swap"
        // `vitrine migrate`: after a batch's photos and vectors, before its catalog commit.
        case migrateAfterIndex = "migrate-after-index"
    }

    private let point: Point?
    private let occurrence: Int
    private let reached = Atomic<Int>(0)

    private init(point: Point?, occurrence: Int) {
        self.point = point
        self.occurrence = occurrence
    }

    static func fromEnvironment() -> FaultInjection {
        guard let spec = ProcessInfo.processInfo.environment["VITRINE_FAULT"], !spec.isEmpty else {
            return FaultInjection(point: nil, occurrence: 0)
        }
        let parts = spec.split(separator: ":", maxSplits: 1).map(String.init)
        return FaultInjection(point: Point(rawValue: parts[0]), occurrence: parts.count > 1 ? Int(parts[1]) ?? 1 : 1)
    }

    /// Dies with SIGKILL (no cleanup, no flush: exactly what a crash leaves) when `point` is the
    /// configured one and this is its configured occurrence.
    func reach(_ point: Point) throws {
        guard let configured = self.point, configured == point else { return }
        if reached.add(1, ordering: .relaxed).newValue == occurrence {
            FileHandle.standardError.write(Data("vitrine: fault injected at \(point.rawValue)\n".utf8))
            kill(getpid(), SIGKILL)
            throw EngineError.injectedFault(point.rawValue)  // not reached
        }
    }
}
