import Foundation

/// Relevance judgements (qrels): for each query, the grade of each judged product. A grade ≥ 1
/// is relevant; 0 and negative grades are judged non-relevant (docs/eval-metrics.md).
public struct Judgements: Sendable, Equatable {
    /// query id → product id → grade.
    public var grades: [String: [String: Int]]
    /// Query ids in the order the file first names them.
    public var queries: [String]

    public init(grades: [String: [String: Int]], queries: [String]? = nil) {
        self.grades = grades
        self.queries = queries ?? grades.keys.sorted()
    }

    /// Reads TREC qrels (`qid 0 product_id grade`, whitespace-separated), JSON lines
    /// (`{"qid", "product_id" or "doc", "relevance" or "grade"}`) or CSV with those columns, by
    /// the file's extension (`.jsonl`/`.ndjson`, `.csv`, anything else TREC).
    public static func read(_ url: URL) throws -> Judgements {
        let path = url.path
        let rows = try TabularFile.rows(url, columns: [["qid", "query_id"], ["product_id", "doc", "docid", "id"],
                                                       ["relevance", "grade", "rel"]],
                                        trecFields: 4, trecColumns: [0, 2, 3])
        var grades: [String: [String: Int]] = [:]
        var order: [String] = []
        for row in rows {
            guard let grade = Int(row.values[2]) else {
                throw EvalError.malformed(path: path, line: row.line, reason: "relevance \"\(row.values[2])\" is not an integer")
            }
            let (query, product) = (row.values[0], row.values[1])
            try TabularFile.checkID(query, path: path, line: row.line, what: "query id")
            try TabularFile.checkID(product, path: path, line: row.line, what: "product id")
            if grades[query] == nil { order.append(query) }
            guard grades[query, default: [:]].updateValue(grade, forKey: product) == nil else {
                throw EvalError.duplicate(path: path, line: row.line, what: "the judgement of \(product) for query \(query)")
            }
        }
        guard !grades.isEmpty else { throw EvalError.empty(path: path, reason: "no judgements") }
        return Judgements(grades: grades, queries: order)
    }
}

/// A run: for each query, the retrieved products with their scores (TREC run files:
/// `qid Q0 product_id rank score tag`). The rank column and the line order are ignored; the
/// ranking is the scores' (``Ranking``).
public struct Run: Sendable, Equatable {
    public var scores: [String: [(product: String, score: Float)]]

    public init(scores: [String: [(product: String, score: Float)]] = [:]) { self.scores = scores }

    public static func == (a: Run, b: Run) -> Bool {
        a.scores.keys == b.scores.keys && a.scores.allSatisfy { key, list in
            let other = b.scores[key]!
            return list.count == other.count && zip(list, other).allSatisfy { $0.product == $1.product && $0.score == $1.score }
        }
    }

    public static func read(_ url: URL) throws -> Run {
        let path = url.path
        let text: String
        do { text = try String(contentsOf: url, encoding: .utf8) } catch {
            throw EvalError.empty(path: path, reason: "cannot be read (\(error.localizedDescription))")
        }
        var run = Run()
        var seen = Set<[String]>()
        for (index, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\r" }).map(String.init)
            if fields.isEmpty { continue }
            guard fields.count == 6 else {
                throw EvalError.malformed(path: path, line: index + 1, reason: "expected 6 fields (qid Q0 product_id rank score tag), found \(fields.count)")
            }
            guard let value = Double(fields[4]), value.isFinite else {
                throw EvalError.malformed(path: path, line: index + 1, reason: "score \"\(fields[4])\" is not a finite number")
            }
            guard seen.insert([fields[0], fields[2]]).inserted else {
                throw EvalError.duplicate(path: path, line: index + 1, what: "product \(fields[2]) of query \(fields[0])")
            }
            // Scores compare as 32-bit floats, as trec_eval stores them.
            run.scores[fields[0], default: []].append((fields[2], Float(value)))
        }
        guard !run.scores.isEmpty else { throw EvalError.empty(path: path, reason: "no run lines") }
        return run
    }

    /// The run as a TREC file: per query (sorted), its products in ``Ranking`` order with rank =
    /// position and the score as the shortest decimal that reads back as the same `Float`, so
    /// trec_eval, pytrec_eval and ranx see the same order.
    /// - Throws: ``EvalError/invalidArgument(_:)`` for an id with whitespace (a catalog may hold
    ///   one; a TREC line cannot).
    public func trecText(tag: String) throws -> String {
        var lines: [String] = []
        for query in scores.keys.sorted(by: Ranking.byteOrder) {
            for (rank, entry) in Ranking.order(scores[query]!).enumerated() {
                for id in [query, entry.product] where id.isEmpty || id.contains(where: \.isWhitespace) {
                    throw EvalError.invalidArgument("id \"\(id)\" of query \(query)'s run is empty or has whitespace, which a TREC run file cannot hold")
                }
                lines.append("\(query) Q0 \(entry.product) \(rank + 1) \(entry.score) \(tag)")
            }
        }
        return lines.map { $0 + "\n" }.joined()
    }
}

/// trec_eval's ranking rule: score descending (as `Float`), ties by product id in descending
/// byte order (`strcmp`), so every tool reading the same file ranks it the same way.
public enum Ranking {
    public static func order(_ entries: [(product: String, score: Float)]) -> [(product: String, score: Float)] {
        entries.sorted { a, b in a.score != b.score ? a.score > b.score : byteOrder(b.product, a.product) }
    }

    /// `a` before `b` in ascending byte (UTF-8) order, as C's `strcmp`.
    public static func byteOrder(_ a: String, _ b: String) -> Bool {
        a.utf8.lexicographicallyPrecedes(b.utf8)
    }
}
