import Synchronization

/// What a run has done so far: counts, failures and the product ids the source listed. Written by
/// the preparing stage and the committing loop, which run at the same time.
final class IngestLedger: Sendable {
    private struct State {
        var counts = IngestCounts()
        var failures: [IngestFailure] = []
        var seen = Set<String>()
    }

    private let state = Mutex(State())

    var counts: IngestCounts { state.withLock { $0.counts } }

    var failures: [IngestFailure] { state.withLock { $0.failures } }

    /// Every product id the source listed in this run (items and rejected rows with an id).
    var seenIDs: Set<String> { state.withLock { $0.seen } }

    /// Changes the counts in one step.
    func count(_ change: (inout IngestCounts) -> Void) {
        state.withLock { change(&$0.counts) }
    }

    func fail(_ failure: IngestFailure) {
        state.withLock {
            $0.failures.append(failure)
            $0.counts.failed += 1
        }
    }

    /// False when `id` was already seen in this run (a duplicate in the source).
    func claim(_ id: String) -> Bool { state.withLock { $0.seen.insert(id).inserted } }
}
