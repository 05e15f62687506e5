/// At most `slots` operations at once and at most `queueLimit` waiting; a caller beyond that is
/// refused at once with 503 `busy` rather than queued without bound (a burst of uploads would
/// otherwise hold every decoded image in memory).
actor ConcurrencyLimiter {
    let name: String
    let slots: Int
    let queueLimit: Int
    private var running = 0
    private var waiting: [CheckedContinuation<Void, Never>] = []
    /// Called when a caller is refused (for the metrics).
    private let onReject: @Sendable () -> Void

    init(name: String, slots: Int, queueLimit: Int, onReject: @escaping @Sendable () -> Void = {}) {
        self.name = name
        self.slots = max(1, slots)
        self.queueLimit = max(0, queueLimit)
        self.onReject = onReject
    }

    /// Takes a slot, waiting in line when all are taken.
    /// - Throws: ``APIError`` 503 `busy` when the line is full.
    func acquire() async throws {
        if running < slots {
            running += 1
            return
        }
        guard waiting.count < queueLimit else {
            onReject()
            throw APIError(.serviceUnavailable, code: "busy",
                           "the server is busy with other \(name) requests (\(slots) running, \(waiting.count) waiting); retry shortly")
        }
        // The slot is handed over by release(): `running` stays the same.
        await withCheckedContinuation { waiting.append($0) }
    }

    /// Callers waiting for a slot now.
    var waitingCount: Int { waiting.count }

    func release() {
        if waiting.isEmpty {
            running -= 1
        } else {
            waiting.removeFirst().resume()
        }
    }
}
