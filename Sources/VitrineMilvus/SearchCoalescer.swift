import Foundation

/// Concurrent searches with the same parameters, sent to Milvus as one request.
///
/// Milvus spends most of a small search on the request itself (parsing, scheduling it on the
/// query node, reducing segment results), little on the HNSW walk of one query, and it shares the
/// machine's cores with the replicas. So while a search is in flight, searches that arrive with
/// the same expression, top-k and beam wait together and go as one request with `nq` queries when
/// it returns; a search that finds nothing in flight goes at once, so a quiet server adds no
/// delay. Each waiting group has a leader (its first member) that sends it; the others wait for
/// their slice of its answer, or its error.
final class SearchCoalescer<Query: Sendable, Answer: Sendable>: @unchecked Sendable {
    /// What makes searches share a request: everything but the query vector.
    struct Key: Hashable, Sendable {
        let expression: String
        let topK: Int
        let beam: Int
    }

    /// At most this many queries in one request.
    let maxQueries: Int
    private let condition = NSCondition()
    private var inFlight: Set<Key> = []
    private var waiting: [Key: Group] = [:]
    private var shared = 0

    /// Queries sent so far in requests of more than one.
    var sharedQueries: Int {
        condition.lock()
        defer { condition.unlock() }
        return shared
    }

    private final class Group {
        var queries: [Query] = []
        var answers: Result<[Answer], Error>?
    }

    init(maxQueries: Int = 64) {
        self.maxQueries = max(1, maxQueries)
    }

    /// `query`'s answer from `send`, which gets the queries of one request in order and must
    /// return one answer per query, in the same order (it throws if it cannot).
    func search(_ query: Query, key: Key, send: ([Query]) throws -> [Answer]) throws -> Answer {
        condition.lock()
        if !inFlight.contains(key) && waiting[key] == nil {
            inFlight.insert(key)
            condition.unlock()
            defer { finish(key) }
            return try send([query])[0]
        }
        if let group = waiting[key], group.queries.count < maxQueries {
            let index = group.queries.count
            group.queries.append(query)
            while group.answers == nil { condition.wait() }
            condition.unlock()
            return try group.answers!.get()[index]
        }
        // The first to wait leads a new group: it sends once the request in flight returns.
        let group = Group()
        group.queries = [query]
        if waiting[key] == nil { waiting[key] = group }
        while inFlight.contains(key) { condition.wait() }
        inFlight.insert(key)
        if waiting[key] === group { waiting[key] = nil }  // later arrivals start the next group
        let queries = group.queries
        if queries.count > 1 { shared += queries.count }
        condition.unlock()
        let answers = Result { try send(queries) }
        condition.lock()
        group.answers = answers
        inFlight.remove(key)
        condition.broadcast()
        condition.unlock()
        return try answers.get()[0]
    }

    private func finish(_ key: Key) {
        condition.lock()
        inFlight.remove(key)
        condition.broadcast()
        condition.unlock()
    }
}
