import Dispatch
import Foundation

/// Runs CPU-bound engine work (encoding, index search, decoding) on a dispatch queue, off the
/// Swift concurrency pool and NIO's event loops, so a long encode never stalls `/healthz` or other
/// connections; and stops waiting for it after a time limit.
///
/// A blocking pass cannot be interrupted, so on timeout the caller gets ``APIError/timeout`` at
/// once while the work finishes in the background and its result is dropped.
enum Deadline {
    private static let queue = DispatchQueue(label: "vitrine.engine", qos: .userInitiated, attributes: .concurrent)

    static func run<T: Sendable>(_ limit: Duration, _ work: @escaping @Sendable () throws -> T) async throws -> T {
        let once = ResumeOnce<T>()
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, Error>) in
                once.set(continuation)
                once.arm(timeout: limit, on: queue)
                queue.async {
                    once.resume(with: Result { try work() })
                }
            }
        } onCancel: {
            once.resume(with: .failure(CancellationError()))
        }
    }
}
