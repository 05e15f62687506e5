import Dispatch
import Foundation

/// Encodes concurrent queries together: one encoder pass at a time, over every query that arrived
/// while the previous pass ran (at most `maxBatch`).
///
/// A text query's pass is bound by reading the tower's weights from memory, not by arithmetic, so
/// one pass over the weights serves several queries for little more than the cost of one. There is
/// no waiting for a batch to fill: an idle encoder starts at once on whatever is queued, so a lone
/// query pays nothing, and under load the batch grows by itself to what arrived during one pass.
///
/// Bounds and failures: at most `queueLimit` queries wait (more answer 503 `busy`, as the
/// ``ConcurrencyLimiter`` does); a query that times out or is cancelled while waiting leaves the
/// queue and is never encoded; when a pass throws, its queries are retried one by one, so one bad
/// query fails alone.
final class QueryBatcher<Input: Sendable, Output: Sendable>: @unchecked Sendable {
    typealias Encode = @Sendable ([Input]) throws -> [Output]

    let name: String
    let maxBatch: Int
    let queueLimit: Int
    private let encode: Encode
    private let onReject: @Sendable () -> Void
    private let onPass: @Sendable (_ size: Int, _ duration: Duration) -> Void

    private let lock = NSLock()
    private var queue: [Entry] = []
    private var running = false
    /// Passes run here, off the Swift concurrency pool and the event loops (they block a thread).
    private let worker: DispatchQueue

    init(name: String, maxBatch: Int, queueLimit: Int, encode: @escaping Encode,
         onReject: @escaping @Sendable () -> Void = {},
         onPass: @escaping @Sendable (_ size: Int, _ duration: Duration) -> Void = { _, _ in }) {
        self.name = name
        self.maxBatch = max(1, maxBatch)
        self.queueLimit = max(0, queueLimit)
        self.encode = encode
        self.onReject = onReject
        self.onPass = onPass
        worker = DispatchQueue(label: "vitrine.batch.\(name)", qos: .userInitiated)
    }

    /// Queries waiting for a pass now (not counting the one running).
    var waitingCount: Int {
        lock.withLock { queue.count }
    }

    /// The output for `input`, computed in a pass with whatever else is waiting.
    /// - Throws: ``APIError`` 503 `busy` when the queue is full, ``APIError/timeout`` after
    ///   `timeout`, `CancellationError` when the task is cancelled, or the encoder's own error.
    func run(_ input: Input, timeout: Duration) async throws -> Output {
        try Task.checkCancellation()
        let entry = Entry(input)
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Output, Error>) in
                entry.answer.set(continuation)
                // Not on `worker`: a pass blocks it, and the timer must fire during one.
                entry.answer.arm(timeout: timeout, on: DispatchQueue.global(qos: .userInitiated)) { [weak self, weak entry] in
                    guard let self, let entry else { return }
                    self.abandon(entry, with: APIError.timeout)
                }
                enqueue(entry)
            }
        } onCancel: {
            abandon(entry, with: CancellationError())
        }
    }

    private func enqueue(_ entry: Entry) {
        lock.lock()
        // Cancelled before it was queued: already answered, nothing to encode.
        guard !entry.isDone else { lock.unlock(); return }
        guard queue.count < queueLimit || (!running && queue.isEmpty) else {
            let waiting = queue.count
            lock.unlock()
            onReject()
            entry.finish(.failure(APIError(.serviceUnavailable, code: "busy",
                "the server is busy with other \(name) requests (\(waiting) waiting); retry shortly")))
            return
        }
        queue.append(entry)
        let start = !running
        running = true
        lock.unlock()
        if start { worker.async { self.drain() } }
    }

    /// Takes `entry` out of the queue if it is still there and answers it with `error`. An entry
    /// already in a pass is answered now too; its output, when it comes, is dropped.
    private func abandon(_ entry: Entry, with error: Error) {
        lock.withLock { queue.removeAll { $0 === entry } }
        entry.finish(.failure(error))
    }

    /// Runs passes until the queue is empty.
    private func drain() {
        while true {
            let batch: [Entry] = lock.withLock {
                let taken = Array(queue.prefix(maxBatch))
                queue.removeFirst(taken.count)
                if taken.isEmpty { running = false }
                return taken
            }
            guard !batch.isEmpty else { return }
            let start = ContinuousClock.now
            let results = pass(batch.map(\.input))
            onPass(batch.count, ContinuousClock.now - start)
            for (entry, result) in zip(batch, results) { entry.finish(result) }
        }
    }

    /// One pass over `inputs`; if it fails, each input alone, so the failure lands on its owner.
    private func pass(_ inputs: [Input]) -> [Result<Output, Error>] {
        do {
            let outputs = try encode(inputs)
            guard outputs.count == inputs.count else {
                throw APIError(.internalServerError, code: "internal", "the encoder returned \(outputs.count) outputs for \(inputs.count) inputs")
            }
            return outputs.map { .success($0) }
        } catch {
            guard inputs.count > 1 else { return [.failure(error)] }
            return inputs.map { input in
                Result {
                    let output = try encode([input])
                    guard let first = output.first, output.count == 1 else {
                        throw APIError(.internalServerError, code: "internal", "the encoder returned \(output.count) outputs for 1 input")
                    }
                    return first
                }
            }
        }
    }

    /// A queued query and the answer the request waits for.
    private final class Entry: Sendable {
        let input: Input
        let answer = ResumeOnce<Output>()

        init(_ input: Input) { self.input = input }

        var isDone: Bool { answer.isDone }

        func finish(_ result: Result<Output, Error>) { answer.resume(with: result) }
    }
}
