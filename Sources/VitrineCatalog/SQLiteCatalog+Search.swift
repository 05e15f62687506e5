import Foundation
import GRDB

// Full-text search: FTS5 over name and description (unicode61 tokenizer, diacritics removed),
// ranked by bm25.

extension SQLiteCatalog {
    /// Product ids whose name or description match `query`, best first (bm25, name words
    /// weighing twice description words).
    ///
    /// The query is user text, never FTS5 syntax: each whitespace-separated word becomes a quoted
    /// phrase, so `"`, `*`, `-`, `:`, parentheses, AND/OR/NOT/NEAR are plain text. Products
    /// matching every word come first; when none does, products matching any word are returned.
    /// An empty query (or one without letters or digits) returns [].
    public func textSearch(_ query: String, limit: Int, filter: ProductFilter) throws -> [String] {
        guard limit > 0, filter.categories?.isEmpty != true else { return [] }
        let terms = FullTextQuery.terms(query)
        guard !terms.all.isEmpty else { return [] }
        // Filter values are bound, never spliced: only the number of placeholders varies.
        var conditions = ""
        var values: [any DatabaseValueConvertible] = []
        if let categories = filter.categories {
            conditions += " AND p.category IN (" + Array(repeating: "?", count: categories.count).joined(separator: ", ") + ")"
            values += categories
        }
        if let market = filter.market {
            conditions += " AND p.market = ?"
            values.append(market)
        }
        return try read { db in
            // The ranking in memory, when it holds this generation (it gives the same results).
            if let ids = try keywordIndex(db)?.search(terms, limit: limit, filter: filter) { return ids }
            // Without a filter, FTS5 ranks and cuts the matches itself (`ORDER BY rank LIMIT`: its
            // own sorter, ties by rowid = doc) and only the kept rows are joined; a filter needs the
            // join for every match. Both give the same order (bm25, then doc).
            let statement = try db.cachedStatement(sql: conditions.isEmpty ? """
                SELECT p.id FROM (SELECT rowid, rank FROM products_fts WHERE products_fts MATCH ? AND rank MATCH 'bm25(2.0, 1.0)'
                                  ORDER BY rank LIMIT ?) AS f
                JOIN products p ON p.doc = f.rowid ORDER BY f.rank, p.doc
                """ : """
                SELECT p.id FROM products_fts JOIN products p ON p.doc = products_fts.rowid
                WHERE products_fts MATCH ?\(conditions) ORDER BY bm25(products_fts, 2.0, 1.0), p.doc LIMIT ?
                """)
            func search(_ words: [String], _ op: String) throws -> [String] {
                try String.fetchAll(statement, arguments: StatementArguments([FullTextQuery.match(words, operator: op)] + values + [limit]))
            }
            let all = try search(terms.all, "AND")
            if !all.isEmpty || terms.any.isEmpty { return all }
            return try search(terms.any, "OR")
        }
    }
}

extension SQLiteCatalog {
    /// Keeps a ``KeywordIndex`` of the catalog from now on: one is built in the background now,
    /// and again after writes (a build at most every 4× the last one's time, at least a second
    /// apart); searches use FTS5's ranking until it holds their generation.
    public func keepTextSearchInMemory() {
        let start = keywordMemory.withLock { state -> Bool in
            guard !state.enabled, !state.closed else { return false }
            state.enabled = true
            state.building = true
            return true
        }
        if start { buildKeywordIndex() }
    }

    /// Builds the in-memory keyword index now, on this thread, and keeps it (as
    /// ``keepTextSearchInMemory()`` does, without waiting for the background). Throws when the
    /// index would not rank as FTS5 does; FTS5 then keeps ranking.
    public func buildTextSearchInMemory() throws {
        let index: KeywordIndex
        do {
            index = try pool.read { db in try KeywordIndex.build(db, path: path) }
        } catch let refused as KeywordIndex.Refused {
            throw refused
        } catch {
            throw Self.translate(error, path: path)
        }
        keywordMemory.withLock { state in
            state.enabled = true
            if state.index.map({ $0.generation < index.generation }) ?? true { state.index = index }
        }
    }

    /// The in-memory index when it holds the generation `db` sees; otherwise nil, and a build
    /// starts when none runs and the last ended long enough ago.
    func keywordIndex(_ db: Database) throws -> KeywordIndex? {
        guard keywordMemory.withLock({ $0.enabled }) else { return nil }
        let generation = try Self.counter(db, key: "generation", path: path)
        let (index, start) = keywordMemory.withLock { state -> (KeywordIndex?, Bool) in
            if let index = state.index, index.generation == generation { return (index, false) }
            guard !state.building, !state.closed, state.refused != generation else { return (nil, false) }
            if let last = state.lastBuild, ContinuousClock.now < last.ended + max(.seconds(1), last.took * 4) { return (nil, false) }
            state.building = true
            return (nil, true)
        }
        if start { buildKeywordIndex() }
        return index
    }

    /// Builds the index on a thread of its own (``KeywordMemory/building`` is set).
    private func buildKeywordIndex() {
        keywordBuilds.enter()
        Thread.detachNewThread { [self] in
            defer { keywordBuilds.leave() }
            let began = ContinuousClock.now
            let result = Result { try pool.read { db in try KeywordIndex.build(db, path: path) { self.keywordMemory.withLock { $0.closed } } } }
            keywordMemory.withLock { state in
                state.building = false
                state.lastBuild = (ContinuousClock.now, ContinuousClock.now - began)
                switch result {
                case .success(let index):
                    state.index = index
                    state.refused = nil
                case .failure(let refusal as KeywordIndex.Refused):
                    // This catalog's ranking stays with FTS5 until a write changes the catalog.
                    state.index = nil
                    state.refused = refusal.generation
                case .failure:
                    state.index = nil
                }
            }
        }
    }
}

/// Where the in-memory keyword index stands.
struct KeywordMemory {
    /// Whether ``SQLiteCatalog/keepTextSearchInMemory()`` asked for it.
    var enabled = false
    /// The last index built (it answers for its generation only).
    var index: KeywordIndex?
    var building = false
    /// When the last build ended, and its time.
    var lastBuild: (ended: ContinuousClock.Instant, took: Duration)?
    /// The generation a build refused (FTS5 and this index disagreed).
    var refused: UInt64?
    /// The catalog is closing: no build starts, a running one stops.
    var closed = false
}

/// Turns user text into an FTS5 query that cannot be a syntax error.
public enum FullTextQuery {
    /// Whitespace-separated words that contain a letter or digit (others would tokenize to
    /// nothing). NUL becomes a separator: SQLite reads bound text as a C string and would cut
    /// the query there, possibly inside a quote.
    public static func words(_ text: String) -> [String] {
        text.split(whereSeparator: { $0.isWhitespace || $0 == "\0" })
            .filter { $0.unicodeScalars.contains { CharacterSet.alphanumerics.contains($0) } }
            .map(String.init)
    }

    /// The words a search matches: products with all of `all`, else (when that finds none) any of
    /// `any`. Stop words ("for", "the", "with", …) are left out of both, so "shoes for walking"
    /// needs no "for" and a paraphrase sharing only "for" with a product does not match it; a query
    /// of stop words alone matches them all, and has no any-word fallback.
    public static func terms(_ text: String) -> (all: [String], any: [String]) {
        let words = words(text)
        let content = words.filter { !stopWords.contains($0.lowercased().trimmingCharacters(in: .punctuationCharacters)) }
        if content.isEmpty { return (words, []) }
        return (content, content.count > 1 ? content : [])
    }

    /// English function words (Lucene's English stop set, with personal pronouns): they carry no
    /// product's meaning, and match nearly every description.
    static let stopWords: Set<String> = [
        "a", "an", "and", "are", "as", "at", "be", "but", "by", "for", "from", "if", "in", "into", "is", "it", "no", "not",
        "of", "on", "or", "such", "that", "the", "their", "then", "there", "these", "they", "this", "to", "was", "will",
        "with", "i", "me", "my", "we", "our", "you", "your",
    ]

    /// Each word folded as the index is (``TextFolding``) and written as an FTS5 string (double
    /// quotes doubled), joined by `op`.
    static func match(_ words: [String], operator op: String) -> String {
        words.map { "\"" + TextFolding.fold($0).replacingOccurrences(of: "\"", with: "\"\"") + "\"" }.joined(separator: " \(op) ")
    }
}

/// How the SQLite catalog's full-text index folds text, in every script of GLAMI-1M's thirteen
/// languages: canonical decomposition, then every combining mark dropped (Greek tonos and
/// dialytika, Czech háček, Romanian comma below, Hungarian double acute, ...), and the letters
/// that carry their mark inside them mapped to their base (Turkish dotless ı, Croatian đ). Case is
/// left to FTS5's unicode61 tokenizer. The index holds folded text (schema v2) and queries are
/// folded the same way; the catalog keeps and returns the text as written.
public enum TextFolding {
    public static func fold(_ text: String) -> String {
        var scalars = String.UnicodeScalarView()
        for scalar in text.decomposedStringWithCanonicalMapping.unicodeScalars {
            switch scalar.properties.generalCategory {
            case .nonspacingMark, .enclosingMark: continue
            default: break
            }
            switch scalar {
            case "ı": scalars.append("i")
            case "đ": scalars.append("d")
            case "Đ": scalars.append("D")
            case "ł": scalars.append("l")
            case "Ł": scalars.append("L")
            default: scalars.append(scalar)
            }
        }
        return String(scalars)
    }

    /// `vitrine_fold(text)` for SQL: deterministic, so SQLite may use it in triggers and indexes.
    static let sqlFunction = DatabaseFunction("vitrine_fold", argumentCount: 1, pure: true) { values in
        guard let text = String.fromDatabaseValue(values[0]) else { return values[0] }
        return fold(text)
    }
}
