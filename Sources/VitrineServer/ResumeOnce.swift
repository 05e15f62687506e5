import Dispatch
import Foundation

/// A continuation resumed exactly once, by whichever comes first: the work, the timer or a
/// cancellation. Whatever comes later is dropped; the timer is cancelled once it is answered, so
/// timers don't pile up under load.
final class ResumeOnce<T: Sendable>: @unchecked Sendable {
    private let lock = NSLock()
    private var continuation: CheckedContinuation<T, Error>?
    private var early: Result<T, Error>?
    private var done = false
    private var timer: DispatchWorkItem?

    var isDone: Bool { lock.withLock { done } }

    func set(_ continuation: CheckedContinuation<T, Error>) {
        lock.lock()
        if let early {
            lock.unlock()
            continuation.resume(with: early)
            return
        }
        self.continuation = continuation
        lock.unlock()
    }

    /// After `limit`, unless answered before: runs `expire`, or answers ``APIError/timeout``.
    func arm(timeout limit: Duration, on queue: DispatchQueue, expire: (@Sendable () -> Void)? = nil) {
        let (seconds, attoseconds) = limit.components
        let nanoseconds = Int(seconds) * 1_000_000_000 + Int(attoseconds / 1_000_000_000)
        let timer = DispatchWorkItem { [weak self] in
            if let expire { expire() } else { self?.resume(with: .failure(APIError.timeout)) }
        }
        lock.lock()
        if done {
            lock.unlock()
            return
        }
        self.timer = timer
        lock.unlock()
        queue.asyncAfter(deadline: .now() + .nanoseconds(nanoseconds), execute: timer)
    }

    func resume(with result: Result<T, Error>) {
        lock.lock()
        guard !done else { lock.unlock(); return }
        done = true
        timer?.cancel()
        timer = nil
        guard let continuation else {
            early = result  // answered before the continuation existed (cancelled at once)
            lock.unlock()
            return
        }
        self.continuation = nil
        lock.unlock()
        continuation.resume(with: result)
    }
}
