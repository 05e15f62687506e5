import ArgumentParser
import Foundation
import Logging
import Synchronization
import VitrineCommandLine
import VitrineEngine
import VitrineServer

/// How `vitrine ingest` shows its progress on standard error.
enum LogFormat: String, CaseIterable, ExpressibleByArgument {
    /// For people: a redrawn progress line on a terminal, a line every ten seconds otherwise.
    case text
    /// For log shippers: one ECS JSON line per batch and one at the end (`ECSLogHandler`).
    case json
}

/// Follows an ingest run: turns each progress report (the counts so far) into what changed since
/// the one before, for the progress line or the JSON log, and for the run's metrics.
final class IngestObserver: Sendable {
    private let view: IngestProgressView?
    private let logger: Logger?
    private let metrics: IngestMetrics?
    private let generation: @Sendable () -> UInt64?
    private struct State {
        var last = IngestCounts()
        var batches = 0
        var lastReport = ContinuousClock.now
    }
    private let state = Mutex(State())
    private let started = ContinuousClock.now

    /// `generation` reads the data generation after a commit (for the JSON log).
    init(format: LogFormat, total: Int?, metrics: IngestMetrics?, generation: @escaping @Sendable () -> UInt64?) {
        view = format == .text ? IngestProgressView(total: total) : nil
        logger = format == .json ? Logger(label: "vitrine.ingest") { ECSLogHandler(label: $0) } : nil
        self.metrics = metrics
        self.generation = generation
    }

    func progressed(_ counts: IngestCounts) {
        view?.update(counts)
        let (delta, batch, elapsed) = state.withLock { state -> (IngestCounts, Int, Duration) in
            let last = state.last
            var delta = IngestCounts()
            delta.read = max(0, counts.read - last.read)
            delta.ingested = max(0, counts.ingested - last.ingested)
            delta.updated = max(0, counts.updated - last.updated)
            delta.unchanged = max(0, counts.unchanged - last.unchanged)
            delta.failed = max(0, counts.failed - last.failed)
            delta.imagesEmbedded = max(0, counts.imagesEmbedded - last.imagesEmbedded)
            // Reports of the two stages may cross: keep the largest count of each.
            state.last.read += delta.read
            state.last.ingested += delta.ingested
            state.last.updated += delta.updated
            state.last.unchanged += delta.unchanged
            state.last.failed += delta.failed
            state.last.imagesEmbedded += delta.imagesEmbedded
            let committed = delta.ingested + delta.updated > 0
            if committed { state.batches += 1 }
            // The time since the previous line: reports that change nothing log nothing.
            let now = ContinuousClock.now
            let elapsed = now - state.lastReport
            if delta != IngestCounts() { state.lastReport = now }
            return (delta, committed ? state.batches : 0, elapsed)
        }
        metrics?.counted(delta)
        guard let logger, delta != IngestCounts() else { return }
        var metadata: Logger.Metadata = [
            "event.duration": .stringConvertible(ECSLogHandler.nanoseconds(elapsed)),
            "vitrine.ingest.ingested": .stringConvertible(delta.ingested),
            "vitrine.ingest.updated": .stringConvertible(delta.updated),
            "vitrine.ingest.unchanged": .stringConvertible(delta.unchanged),
            "vitrine.ingest.failed": .stringConvertible(delta.failed),
            "vitrine.ingest.images_embedded": .stringConvertible(delta.imagesEmbedded),
        ]
        if batch > 0 {
            metadata["vitrine.ingest.batch"] = .stringConvertible(batch)
            if let generation = generation() { metadata["vitrine.data.generation"] = .stringConvertible(generation) }
        }
        logger.info(batch > 0 ? "batch committed" : "items skipped or rejected", metadata: metadata)
    }

    func finished(_ report: IngestReport) {
        view?.finish(report.counts)
        let c = report.counts
        logger?.info("ingest finished", metadata: [
            "event.duration": .stringConvertible(ECSLogHandler.nanoseconds(ContinuousClock.now - started)),
            "vitrine.ingest.source": .string(report.source),
            "vitrine.ingest.read": .stringConvertible(c.read),
            "vitrine.ingest.ingested": .stringConvertible(c.ingested),
            "vitrine.ingest.updated": .stringConvertible(c.updated),
            "vitrine.ingest.unchanged": .stringConvertible(c.unchanged),
            "vitrine.ingest.failed": .stringConvertible(c.failed),
            "vitrine.ingest.images_embedded": .stringConvertible(c.imagesEmbedded),
        ])
    }

    func failed(_ error: any Error) {
        logger?.error("ingest failed", metadata: [
            "event.duration": .stringConvertible(ECSLogHandler.nanoseconds(ContinuousClock.now - started)),
            "error.message": .string(String(describing: error)),
        ])
    }
}
