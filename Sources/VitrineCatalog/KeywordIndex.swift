import Foundation
import GRDB

/// The SQLite catalog's full-text index copied into memory, to rank keyword searches: each term's
/// occurrences (product, column, position), each product's length in tokens, the totals, and the
/// filter attributes. It answers exactly as FTS5 does — the same matches, the same `bm25(2.0,
/// 1.0)` scores computed in the same order, ties by doc — without FTS5's cost of reading every
/// match's position list and column sizes from the file (16.5 ms for an any-word search matching
/// 4,400 of 100,000 products, against 0.7 ms to find them: BENCHMARKS.md).
///
/// Exact by construction, and checked: the tokens come from the tokenizer FTS5 uses (unicode61,
/// remove_diacritics 2, over text folded by ``TextFolding``), with each non-ASCII character's
/// class and folding asked of SQLite itself; and a build whose vocabulary differs from FTS5's own
/// (`fts5vocab`: every term, its product count and its occurrence count) is refused. A query with
/// a character no product has (its class unknown here) is left to FTS5.
///
/// An index is a snapshot of one catalog generation; ``SQLiteCatalog`` builds another in the
/// background after a write, and searches FTS5 until it is ready.
final class KeywordIndex: Sendable {
    /// The catalog generation this index holds.
    let generation: UInt64
    let tokenizer: Unicode61Tokenizer
    /// Term → index into ``termStart``.
    let terms: [String: Int]
    /// Term `t`'s occurrences are `occurrences[termStart[t]..<termStart[t + 1]]`, each
    /// `doc << 32 | column << 31 | position`, sorted: by product, then column, then position.
    let termStart: [Int]
    let occurrences: [UInt64]
    /// Per product, in doc (rowid) order: its id, its length in tokens (both columns), its
    /// category and market as indexes into ``values`` (-1: none).
    let ids: [String]
    let lengths: [UInt32]
    let categories: [Int32]
    let markets: [Int32]
    /// Category and market values → their index (one table for both).
    let values: [String: Int32]
    /// Tokens in all products; the mean length is `totalTokens / ids.count`, as FTS5's.
    let totalTokens: Int

    /// FTS5's bm25 parameters and the catalog's column weights (name, description).
    static let k1 = 1.2
    static let b = 0.75
    static let nameWeight = 2.0
    static let descriptionWeight = 1.0

    private init(generation: UInt64, tokenizer: Unicode61Tokenizer, terms: [String: Int], termStart: [Int], occurrences: [UInt64],
                 ids: [String], lengths: [UInt32], categories: [Int32], markets: [Int32], values: [String: Int32], totalTokens: Int) {
        self.generation = generation
        self.tokenizer = tokenizer
        self.terms = terms
        self.termStart = termStart
        self.occurrences = occurrences
        self.ids = ids
        self.lengths = lengths
        self.categories = categories
        self.markets = markets
        self.values = values
        self.totalTokens = totalTokens
    }

    /// Why a build was refused (the catalog's FTS5 index answers instead).
    struct Refused: Error, CustomStringConvertible {
        /// The generation the build read.
        let generation: UInt64
        let description: String
    }

    // MARK: Building

    /// Reads the catalog (one read transaction: `db` sees one generation) into an index. Throws
    /// ``Refused`` when the result would not equal FTS5's (a schema before v2, whose index holds
    /// text this build does not fold the same way; a vocabulary that differs), `CancellationError`
    /// when `cancelled` turns true.
    static func build(_ db: Database, path: String, cancelled: () -> Bool = { false }) throws -> KeywordIndex {
        let generation = try SQLiteCatalog.counter(db, key: "generation", path: path)
        func refuse(_ reason: String) -> Refused { Refused(generation: generation, description: reason) }
        let version = try Int.fetchOne(db, sql: "PRAGMA user_version") ?? 0
        guard version >= 2 else { throw refuse("schema v\(version) indexes text unfolded; open the catalog for writing once to upgrade it") }

        // The products' folded text, and every non-ASCII character in it (asked of SQLite below).
        var texts: [(name: String, description: String)] = []
        var ids: [String] = []
        var categories: [Int32] = []
        var markets: [Int32] = []
        var values: [String: Int32] = [:]
        var scalars = Set<UInt32>()
        func value(_ text: String?) -> Int32 {
            guard let text else { return -1 }
            if let index = values[text] { return index }
            let index = Int32(values.count)
            values[text] = index
            return index
        }
        let rows = try Row.fetchCursor(db, sql: "SELECT id, name, description, category, market FROM products ORDER BY doc")
        while let row = try rows.next() {
            if ids.count % 4096 == 0, cancelled() { throw CancellationError() }
            let name = TextFolding.fold(row[1] as String)
            let description = TextFolding.fold(row[2] as String)
            for text in [name, description] {
                for scalar in text.unicodeScalars where scalar.value >= 0x80 { scalars.insert(scalar.value) }
            }
            texts.append((name, description))
            ids.append(row[0])
            categories.append(value(row[3]))
            markets.append(value(row[4]))
        }
        let tokenizer = try Unicode61Tokenizer(probing: scalars)

        // Occurrences, per term, in product then column then position order.
        var terms: [String: Int] = [:]
        var perTerm: [[UInt64]] = []
        var lengths: [UInt32] = []
        lengths.reserveCapacity(texts.count)
        var totalTokens = 0
        for (doc, text) in texts.enumerated() {
            if doc % 4096 == 0, cancelled() { throw CancellationError() }
            var length = 0
            for (column, field) in [text.name, text.description].enumerated() {
                // Every character is in the table: the tokenizer was made from these texts.
                let tokens = tokenizer.tokens(field) ?? []
                for (position, token) in tokens.enumerated() {
                    let term: Int
                    if let known = terms[token] {
                        term = known
                    } else {
                        term = perTerm.count
                        terms[token] = term
                        perTerm.append([])
                    }
                    perTerm[term].append(UInt64(doc) << 32 | UInt64(column) << 31 | UInt64(position))
                }
                length += tokens.count
            }
            lengths.append(UInt32(length))
            totalTokens += length
        }
        texts = []

        // FTS5's own vocabulary must be this one, term by term.
        try db.execute(sql: "CREATE VIRTUAL TABLE IF NOT EXISTS temp.vitrine_products_vocab USING fts5vocab(main, products_fts, row)")
        let vocabulary = try Row.fetchCursor(db, sql: "SELECT term, doc, cnt FROM temp.vitrine_products_vocab")
        var seen = 0
        while let row = try vocabulary.next() {
            if seen % 4096 == 0, cancelled() { throw CancellationError() }
            let term: String = row[0]
            guard let index = terms[term] else {
                throw refuse("FTS5 indexes the term \(term.debugDescription), which this index does not")
            }
            let list = perTerm[index]
            var products = 0
            var previous = UInt64.max
            for occurrence in list where occurrence >> 32 != previous {
                products += 1
                previous = occurrence >> 32
            }
            guard products == row[1] as Int, list.count == row[2] as Int else {
                throw refuse("the term \(term.debugDescription) is in \(row[1] as Int) products \(row[2] as Int) times for FTS5, \(products) and \(list.count) here")
            }
            seen += 1
        }
        guard seen == terms.count else { throw refuse("FTS5 indexes \(seen) terms, this index \(terms.count)") }

        var termStart = [0]
        termStart.reserveCapacity(perTerm.count + 1)
        var occurrences: [UInt64] = []
        occurrences.reserveCapacity(perTerm.reduce(0) { $0 + $1.count })
        for list in perTerm {
            occurrences += list
            termStart.append(occurrences.count)
        }
        return KeywordIndex(generation: generation, tokenizer: tokenizer, terms: terms, termStart: termStart, occurrences: occurrences,
                            ids: ids, lengths: lengths, categories: categories, markets: markets, values: values, totalTokens: totalTokens)
    }

    // MARK: Searching

    /// The keyword retriever's answer (``SQLiteCatalog/textSearch(_:limit:filter:)``, the same two
    /// tiers as its FTS5 query): the products with all of `terms.all`, else, when none has them,
    /// those with any of `terms.any`. Nil when FTS5 must answer (see below).
    func search(_ terms: (all: [String], any: [String]), limit: Int, filter: ProductFilter) -> [String]? {
        guard let all = search(terms.all, all: true, limit: limit, categories: filter.categories, market: filter.market) else { return nil }
        if !all.isEmpty || terms.any.isEmpty { return all }
        return search(terms.any, all: false, limit: limit, categories: filter.categories, market: filter.market)
    }

    /// The ids of the products matching every phrase (`all`) or any, best first, at most `limit`,
    /// within the filter; nil when a word has a character this index cannot tokenize as FTS5
    /// would (none of the products has it), or a word that tokenizes to nothing.
    func search(_ words: [String], all: Bool, limit: Int, categories allowed: [String]?, market: String?) -> [String]? {
        ranked(words, all: all, limit: limit, categories: allowed, market: market)?.map(\.id)
    }

    /// ``search(_:all:limit:categories:market:)`` with each product's score: FTS5's `bm25(2.0,
    /// 1.0)` negated (FTS5 orders by the negative, ascending).
    func ranked(_ words: [String], all: Bool, limit: Int, categories allowed: [String]?, market: String?) -> [(id: String, score: Double)]? {
        // Each word is a phrase: its tokens in a row.
        var phrases: [[Int]] = []
        for word in words {
            guard let tokens = tokenizer.tokens(TextFolding.fold(word)), !tokens.isEmpty else { return nil }
            phrases.append(tokens.map { terms[$0] ?? -1 })
        }
        let allowedValues: Set<Int32>? = allowed.map { Set($0.compactMap { values[$0] }) }
        let marketValue: Int32? = market.map { values[$0] ?? -2 }

        let matches = phrases.map(self.matches)
        let rowCount = Double(ids.count)
        let idf = matches.map { list -> Double in
            let hits = Double(list.docs.count)
            let value = log((rowCount - hits + 0.5) / (hits + 0.5))
            return value <= 0 ? 1e-6 : value
        }
        let averageLength = Double(totalTokens) / rowCount
        let k1 = Self.k1, b = Self.b

        var best = TopScores(limit: limit)
        var cursors = [Int](repeating: 0, count: matches.count)
        // Scores the product every list's cursor is at or before, phrase by phrase in query
        // order as fts5Bm25Function sums them, and moves those cursors past it.
        func score(_ doc: UInt32) {
            let length = Double(lengths[Int(doc)])
            var score = 0.0
            for (i, list) in matches.enumerated() where cursors[i] < list.docs.count && list.docs[cursors[i]] == doc {
                let frequency = list.frequencies[cursors[i]]
                score += idf[i] * ((frequency * (k1 + 1.0)) / (frequency + k1 * (1 - b + b * length / averageLength)))
                cursors[i] += 1
            }
            if let allowedValues, !allowedValues.contains(categories[Int(doc)]) { return }
            if let marketValue, markets[Int(doc)] != marketValue { return }
            best.insert(score: score, doc: doc)
        }
        if all {
            // The products in every list: each list leaps to the largest of the others' products.
            search: while true {
                var doc: UInt32 = 0
                for (i, list) in matches.enumerated() {
                    guard cursors[i] < list.docs.count else { break search }
                    doc = max(doc, list.docs[cursors[i]])
                }
                var aligned = true
                for (i, list) in matches.enumerated() {
                    cursors[i] = list.firstIndex(atLeast: doc, from: cursors[i])
                    guard cursors[i] < list.docs.count else { break search }
                    if list.docs[cursors[i]] != doc { aligned = false }
                }
                if aligned { score(doc) }
            }
        } else {
            // The products in any list, ascending.
            while true {
                var doc: UInt32?
                for (i, list) in matches.enumerated() where cursors[i] < list.docs.count {
                    doc = min(doc ?? .max, list.docs[cursors[i]])
                }
                guard let doc else { break }
                score(doc)
            }
        }
        return best.sorted().map { (ids[Int($0.doc)], $0.score) }
    }

    /// The products a phrase occurs in, ascending, with its frequency in each: the sum of the
    /// column weights over its instances (FTS5's `aFreq`). A phrase with an unknown term has none.
    private func matches(_ phrase: [Int]) -> PhraseMatches {
        var result = PhraseMatches()
        guard !phrase.contains(-1) else { return result }
        let first = phrase[0]
        var cursors = phrase.map { termStart[$0] }
        var i = termStart[first]
        let end = termStart[first + 1]
        while i < end {
            let doc = occurrences[i] >> 32
            var groupEnd = i
            while groupEnd < end && occurrences[groupEnd] >> 32 == doc { groupEnd += 1 }
            var frequency = 0.0
            if phrase.count == 1 {
                for occurrence in occurrences[i..<groupEnd] { frequency += Self.weight(occurrence) }
            } else {
                // Every later token's occurrences in this product (none: the phrase is not in it).
                var groups: [Range<Int>] = []
                for (offset, term) in phrase.enumerated().dropFirst() {
                    let termEnd = termStart[term + 1]
                    while cursors[offset] < termEnd && occurrences[cursors[offset]] >> 32 < doc { cursors[offset] += 1 }
                    var stop = cursors[offset]
                    while stop < termEnd && occurrences[stop] >> 32 == doc { stop += 1 }
                    groups.append(cursors[offset]..<stop)
                }
                if groups.allSatisfy({ !$0.isEmpty }) {
                    for occurrence in occurrences[i..<groupEnd] {
                        // An instance: token j at position + j of the same column, for every j.
                        let instance = groups.enumerated().allSatisfy { offset, group in
                            occurrences[group].contains(occurrence + UInt64(offset + 1))
                        }
                        if instance { frequency += Self.weight(occurrence) }
                    }
                }
            }
            if frequency > 0 {
                result.docs.append(UInt32(doc))
                result.frequencies.append(frequency)
            }
            i = groupEnd
        }
        return result
    }

    private static func weight(_ occurrence: UInt64) -> Double {
        occurrence & (1 << 31) == 0 ? nameWeight : descriptionWeight
    }
}

/// A phrase's products, ascending, and its weighted frequency in each.
private struct PhraseMatches {
    var docs: [UInt32] = []
    var frequencies: [Double] = []

    /// The first index at or after `start` whose product is `doc` or later (galloping search).
    func firstIndex(atLeast doc: UInt32, from start: Int) -> Int {
        var low = start
        var step = 1
        var high = start
        while high < docs.count && docs[high] < doc {
            low = high + 1
            high += step
            step *= 2
        }
        high = min(high, docs.count)
        while low < high {
            let middle = (low + high) / 2
            if docs[middle] < doc { low = middle + 1 } else { high = middle }
        }
        return low
    }
}

/// The best `limit` (score, doc) pairs seen: higher score first, then lower doc (FTS5's order:
/// `ORDER BY rank`, ties by rowid). A binary heap whose root is the worst kept.
private struct TopScores {
    let limit: Int
    private var heap: [(score: Double, doc: UInt32)] = []

    init(limit: Int) {
        self.limit = limit
        heap.reserveCapacity(min(limit, 1024))
    }

    /// Whether `a` ranks before `b`.
    private static func before(_ a: (score: Double, doc: UInt32), _ b: (score: Double, doc: UInt32)) -> Bool {
        a.score != b.score ? a.score > b.score : a.doc < b.doc
    }

    mutating func insert(score: Double, doc: UInt32) {
        let entry = (score: score, doc: doc)
        if heap.count < limit {
            heap.append(entry)
            var child = heap.count - 1
            while child > 0 {
                let parent = (child - 1) / 2
                guard Self.before(heap[parent], heap[child]) else { break }
                heap.swapAt(parent, child)
                child = parent
            }
        } else if let worst = heap.first, Self.before(entry, worst) {
            heap[0] = entry
            var parent = 0
            while true {
                var worse = parent
                for child in [2 * parent + 1, 2 * parent + 2] where child < heap.count && Self.before(heap[worse], heap[child]) {
                    worse = child
                }
                if worse == parent { break }
                heap.swapAt(parent, worse)
                parent = worse
            }
        }
    }

    func sorted() -> [(score: Double, doc: UInt32)] {
        heap.sorted(by: Self.before)
    }
}

/// FTS5's unicode61 tokenizer with remove_diacritics 2, as the catalog configures it, over text
/// already folded by ``TextFolding``: a token is a run of token characters, ASCII letters and
/// digits lowercased; every other character is a separator. Which non-ASCII characters are token
/// characters, and what each folds to, is asked of SQLite (``init(probing:)``), never tabulated
/// here: SQLite's tables are of its own Unicode version, and fold `ς` to `σ`, `ẞ` to `ß`.
struct Unicode61Tokenizer: Sendable {
    /// A non-ASCII character's part in a token: nil, a separator; else what it adds (maybe nothing).
    private let characters: [UInt32: String?]

    /// Asks SQLite how its unicode61 tokenizer treats each of `scalars`: one in-memory FTS5 table
    /// row "a<scalar>a" each, read back through `fts5vocab`. One token means a token character
    /// (the text between the a's is its folding); two, a separator.
    init(probing scalars: Set<UInt32>) throws {
        var characters: [UInt32: String?] = [:]
        if !scalars.isEmpty {
            let probe = try DatabaseQueue()
            try probe.write { db in
                try db.execute(sql: """
                    CREATE VIRTUAL TABLE probe USING fts5(text, tokenize='unicode61 remove_diacritics 2');
                    CREATE VIRTUAL TABLE probe_tokens USING fts5vocab(probe, instance);
                    """)
                let insert = try db.makeStatement(sql: "INSERT INTO probe(rowid, text) VALUES (?, ?)")
                for value in scalars {
                    guard let scalar = Unicode.Scalar(value) else { continue }
                    try insert.execute(arguments: [Int64(value), "a" + String(Character(scalar)) + "a"])
                }
                var tokens: [UInt32: [String]] = [:]
                let rows = try Row.fetchCursor(db, sql: "SELECT doc, term FROM probe_tokens ORDER BY doc, offset")
                while let row = try rows.next() { tokens[UInt32(row[0] as Int64), default: []].append(row[1]) }
                for value in scalars {
                    let found = tokens[value] ?? []
                    if found.count == 1, found[0].hasPrefix("a"), found[0].hasSuffix("a"), found[0].utf8.count >= 2 {
                        characters[value] = .some(String(found[0].dropFirst().dropLast()))
                    } else {
                        characters[value] = .some(nil)
                    }
                }
            }
        }
        self.characters = characters
    }

    /// The tokens of `text` (folded by ``TextFolding`` already), or nil when it has a non-ASCII
    /// character this tokenizer was not made with.
    func tokens(_ text: String) -> [String]? {
        var tokens: [String] = []
        var token: [UInt8] = []
        var inToken = false
        func end() {
            if inToken { tokens.append(String(decoding: token, as: UTF8.self)) }
            token.removeAll(keepingCapacity: true)
            inToken = false
        }
        for scalar in text.unicodeScalars {
            let value = scalar.value
            if value < 0x80 {
                let byte = UInt8(value)
                switch byte {
                case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"):
                    token.append(byte)
                    inToken = true
                case UInt8(ascii: "A")...UInt8(ascii: "Z"):
                    token.append(byte + 32)
                    inToken = true
                default:
                    end()
                }
            } else {
                guard let part = characters[value] else { return nil }
                if let part {
                    token.append(contentsOf: part.utf8)
                    inToken = true
                } else {
                    end()
                }
            }
        }
        end()
        return tokens
    }
}
