import Foundation
import VitrineCatalog
import VitrineEngine
import VitrineLLM

/// The web UI's one page, rendered on the server: the search form, the photo drop zone, and —
/// when the request asked for a search — the results, so the page works without JavaScript.
/// `vitrine.js` only adds what needs a script: photo uploads by drag and drop through
/// the JSON API, and paging of photo results.
///
/// The page is ``HTML``: every catalog and request value is escaped where it is interpolated; it loads nothing but
/// its own stylesheet, script and `/images/...`, which its Content-Security-Policy enforces.
struct WebUIPage {
    enum Mode: Equatable {
        /// No search asked for: the start page.
        case home
        /// `?q=`: text search.
        case text
        /// `?similar=ID`: "more like this".
        case similar
        /// A photo posted to `/ui/search-image` (the form without JavaScript).
        case image
    }

    /// Results per page unless `k` says otherwise, and the most `k` may say.
    static let defaultPerPage = 24
    static let maxPerPage = 60
    /// The last page any `k` may ask for (the engine's offset limit at the largest `k`): one
    /// bound, so the OpenAPI document can state it.
    static let maxPage = SearchPage.maxOffset / maxPerPage + 1

    /// The stylesheet and script the page links, by their versioned URLs.
    let assets: WebUIAssets
    var mode: Mode = .home
    var q = ""
    /// The text search's mode, and whether to rerank and to explain each result.
    var text = SearchService.TextOptions()
    /// Whether the server has a reranker (the form offers it only then).
    var canRerank = false
    /// Whether `mode=text` can answer (a text index and its sentence model): else the select omits it.
    var hasTextIndex = false
    var category: String?
    var market: String?
    /// Words no result may mention (`exclude=`).
    var exclude: [String] = []
    /// What the LLM understood the query to ask for, when the server has one.
    var understood: Understood?
    var similar: String?
    /// The product of a "more like this" view, when it was found.
    var similarProduct: Product?
    /// 1-based.
    var page = 1
    var perPage = defaultPerPage
    var categories: [FacetCount] = []
    var markets: [FacetCount] = []
    /// The products in the catalog, for the start page (nil when unknown).
    var productCount: Int?
    /// The page's results (nil when no search ran).
    var results: [SearchResult]?
    /// Whether another page follows (the page asked for one result more than it shows).
    var hasNext = false
    var truncated = false
    /// What went wrong, shown in an alert (also a 200 prompt for a blank query).
    var error: APIError?

    init(assets: WebUIAssets) { self.assets = assets }

    var title: String {
        switch mode {
        case .home: "Vitrine"
        case .text: q.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty ? "Vitrine" : "\(q) — Vitrine"
        case .similar: "More like \(similarProduct?.name ?? similar ?? "") — Vitrine"
        case .image: "Photo search — Vitrine"
        }
    }

    func render() -> HTML {
        """
        <!doctype html>
        <html lang="en" class="no-js">
        <head>
        <meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <title>\(title)</title>
        <link rel="icon" href="data:,">
        <link rel="stylesheet" href="\(assets.url("vitrine.css"))">
        <script src="\(assets.url("vitrine.js"))" defer></script>
        </head>
        <body>
        <a class="skip" href="#results-heading">Skip to results</a>
        <header class="top">
        <a class="brand" href="/">Vitrine</a>
        \(searchForm())
        \(uploadForm())
        </header>
        <main id="main" data-per-page="\(perPage)">
        \(messages())\(resultsSection())</main>
        <footer class="foot"><a href="/docs">API documentation</a> · <a href="/openapi.json">OpenAPI</a></footer>
        </body>
        </html>

        """
    }

    // MARK: Forms

    func searchForm() -> HTML {
        var out: HTML = """
        <form id="search-form" class="search" role="search" method="get" action="/">
        <div class="field grow"><label for="q">Search by words</label>
        <input id="q" name="q" type="search" maxlength="\(SearchEngine.maxQueryLength)" value="\(q)" placeholder="red floral summer dress" autocomplete="off"></div>
        <div class="field"><label for="category">Category</label>
        <select id="category" name="category"><option value="">All categories</option>\(options(categories, selected: category))</select></div>
        <div class="field"><label for="market">Market</label>
        <select id="market" name="market"><option value="">All markets</option>\(options(markets, selected: market))</select></div>
        <div class="field"><label for="mode">Match</label>
        <select id="mode" name="mode">\(modeOptions())</select></div>
        <div class="field checks">
        \(canRerank ? "<label><input id=\"rerank\" name=\"rerank\" type=\"checkbox\" value=\"true\"\(text.rerank ? " checked" : "")> Rerank</label>" as HTML : .empty)
        <label><input id="explain" name="explain" type="checkbox" value="true"\(text.explain ? " checked" : "")> Explain</label></div>

        """
        if perPage != Self.defaultPerPage { out += "<input type=\"hidden\" name=\"k\" value=\"\(perPage)\">\n" }
        // Keeps a "more like this" view when only the filters change; a typed query wins over it.
        if mode == .similar, let similar { out += "<input type=\"hidden\" name=\"similar\" value=\"\(similar)\">\n" }
        out += "<button type=\"submit\">Search</button>\n</form>"
        return out
    }

    /// The search modes, the one in force selected.
    func modeOptions() -> HTML {
        let labels: [SearchMode: String] = [.clip: "Photos (CLIP)", .keyword: "Words (keyword)", .text: "Meaning (text)", .hybrid: "All (hybrid)"]
        var out = HTML.empty
        for mode in SearchMode.allCases where mode != .text || hasTextIndex || text.mode == .text {
            out += "<option value=\"\(mode.rawValue)\"\(mode == text.mode ? " selected" : "")>\(labels[mode] ?? mode.rawValue)</option>"
        }
        return out
    }

    /// Options of a facet select; a selected value the catalog lacks stays listed, so the form
    /// shows the filter that is in force.
    func options(_ facets: [FacetCount], selected: String?) -> HTML {
        var out = HTML.empty
        var found = false
        // Exactly one option is selected: the one the engine's filter resolves to first.
        let chosen = selected.flatMap { SearchEngine.categoryIDs(matching: $0, in: facets).first }
        for facet in facets {
            let isSelected = facet.value == chosen
            found = found || isSelected
            let label = "\(facet.name ?? facet.value) (\(facet.count))"
            out += "<option value=\"\(facet.value)\"\(isSelected ? " selected" : "")>\(label)</option>"
        }
        if let selected, !found {
            out += "<option value=\"\(selected)\" selected>\(selected) (0)</option>"
        }
        return out
    }

    func uploadForm() -> HTML {
        """
        <form id="upload-form" class="upload" method="post" action="/ui/search-image" enctype="multipart/form-data">
        <div id="drop" class="drop" tabindex="0" role="button" aria-describedby="drop-help">
        <span class="drop-title">Search by photo</span>
        <span id="drop-help" class="drop-help">Drop a photo here, or press Enter to choose one (JPEG, PNG or WebP)</span>
        </div>
        <div class="field file"><label for="image">Photo</label>
        <input id="image" name="image" type="file" accept="image/jpeg,image/png,image/webp"></div>
        <input type="hidden" name="category" value="\(category ?? "")">
        <input type="hidden" name="market" value="\(market ?? "")">
        <button type="submit" class="upload-submit">Search by photo</button>
        </form>
        """
    }

    // MARK: Messages and results

    func messages() -> HTML {
        var out: HTML = "<div id=\"error\" class=\"error\" role=\"alert\"\(error == nil ? " hidden" : "")>"
        if let error { out += "\(Self.sentence(error.message))" }
        out += "</div>\n"
        if truncated {
            out += "<p class=\"note\">Only the first 77 tokens of the query were used.</p>\n"
        }
        return out
    }

    /// A message as a sentence: capitalized, ending with a full stop.
    static func sentence(_ message: String) -> String {
        guard let first = message.first else { return message }
        var text = first.uppercased() + message.dropFirst()
        if !(text.hasSuffix(".") || text.hasSuffix("?") || text.hasSuffix("!")) { text += "." }
        return text
    }

    func resultsSection() -> HTML {
        let empty = emptyText()
        return """
        <section class="results" aria-labelledby="results-heading">
        <h1 id="results-heading" tabindex="-1">\(heading())</h1>
        <p id="status" class="status" role="status">\(summary())</p>
        \(chips())<ol id="results" class="grid">
        \((results ?? []).map(card))</ol>
        <div id="empty" class="empty"\(empty == nil ? " hidden" : "")>\(empty ?? .empty)</div>
        \(pager())</section>

        """
    }

    func heading() -> HTML {
        switch mode {
        case .home: return "Find products by words or by a photo"
        case .text: return "Results for “\(q)”"
        case .image: return "Products like your photo"
        case .similar:
            guard let product = similarProduct else { return "More like this" }
            var text = HTML.empty
            if let key = product.images.first?.key {
                text += "<img class=\"similar-thumb\" src=\"/images/\(key.description)?w=256\" alt=\"\" width=\"48\" height=\"48\"> "
            }
            return text + "More like “\(product.name)”"
        }
    }

    /// Plain text (escaped where it is interpolated).
    func summary() -> String {
        guard let results, error == nil else { return "" }
        if results.isEmpty { return "" }
        let first = (page - 1) * perPage + 1
        var text = "Results \(first)–\(first + results.count - 1)"
        var filters: [String] = []
        if let category { filters.append("category \(facetLabel(categories, category))") }
        if let market { filters.append("market \(facetLabel(markets, market))") }
        if !filters.isEmpty { text += ", " + filters.joined(separator: " and ") }
        return text + "."
    }

    /// What the LLM understood, as chips: each removes its part by linking to the search made
    /// explicit (`understand=false`) without it; the first searches the words as typed.
    func chips() -> HTML {
        guard mode == .text, let understood, understood.source != .fallback, error == nil else { return .empty }
        let category = self.category ?? understood.category, market = self.market ?? understood.market
        let exclude = self.exclude + understood.exclude.filter { !self.exclude.contains($0) }
        func url(q: String, category: String?, market: String?, exclude: [String]) -> String {
            "/" + HTML.query([("q", q), ("category", category), ("market", market), ("exclude", exclude.joined(separator: ",")),
                              ("mode", text.mode != .clip ? text.mode.rawValue : nil), ("understand", "false"),
                              ("k", perPage == Self.defaultPerPage ? nil : String(perPage))])
        }
        let searched = understood.searchText
        func chip(_ label: String, _ value: String, removing href: String, _ what: String) -> HTML {
            "<li class=\"chip\"><span>\(label) <strong>\(value)</strong></span> <a href=\"\(href)\" aria-label=\"\(what)\" title=\"\(what)\">×</a></li>"
        }
        var items: [HTML] = [chip("searched", searched, removing: url(q: q, category: self.category, market: self.market, exclude: self.exclude),
                                  "Search the words as typed")]
        if let category, understood.category != nil, self.category == nil {
            items.append(chip("category", facetLabel(categories, category), removing: url(q: searched, category: nil, market: market, exclude: exclude),
                              "Remove the category"))
        }
        if let market, understood.market != nil, self.market == nil {
            items.append(chip("market", facetLabel(markets, market), removing: url(q: searched, category: category, market: nil, exclude: exclude),
                              "Remove the market"))
        }
        for term in understood.colors + understood.materials {
            let without = searched.split(separator: " ").filter { $0.lowercased() != term.lowercased() }.joined(separator: " ")
            let label = understood.colors.contains(term) ? "colour" : "material"
            items.append(chip(label, term, removing: url(q: without.isEmpty ? searched : without, category: category, market: market, exclude: exclude),
                              "Remove \(term)"))
        }
        for term in understood.exclude where !self.exclude.contains(term) {
            items.append(chip("not", term, removing: url(q: searched, category: category, market: market, exclude: exclude.filter { $0 != term }),
                              "Allow \(term) again"))
        }
        return "<ul id=\"understood\" class=\"chips\" aria-label=\"What the search understood\">" + items.reduce(HTML.empty, +) + "</ul>\n"
    }

    func facetLabel(_ facets: [FacetCount], _ value: String) -> String {
        let chosen = SearchEngine.categoryIDs(matching: value, in: facets).first
        return facets.first { $0.value == chosen }.map { $0.name ?? $0.value } ?? value
    }

    /// The empty state: what to do on the start page, why nothing was found otherwise.
    func emptyText() -> HTML? {
        guard error == nil else { return nil }
        switch (mode, results) {
        case (.home, _):
            let size = productCount.map { "\($0) product\($0 == 1 ? "" : "s")" } ?? "the catalog"
            return "<p>Type what you are looking for, or drop a photo, to search \(size). Every result offers <em>more like this</em>.</p>"
        case (_, let results?) where results.isEmpty:
            if page > 1 { return "<p>No more results: this search has fewer than \(page) pages. <a href=\"\(pageURL(1))\">Back to the first page</a>.</p>" }
            if category != nil || market != nil {
                return "<p>No products match with these filters. <a href=\"\(unfilteredURL())\">Search all categories and markets</a>.</p>"
            }
            return "<p>No products match. Try other words, or a photo.</p>"
        default:
            return nil
        }
    }

    func card(_ result: SearchResult) -> HTML {
        var meta: [HTML] = []
        if let category = result.category { meta.append("<span class=\"category\">\(category)</span>") }
        if let market = result.market { meta.append("<span class=\"market\">\(market)</span>") }
        let more = "/" + HTML.query([("similar", result.id), ("category", category), ("market", market)])
        return """
        <li class="card" data-id="\(result.id)">
        <img src="\(result.image)?w=256" alt="\(result.name)" loading="lazy" width="256" height="256">
        <h2 class="name">\(result.name)</h2>
        <p class="meta">\(HTML(joining: meta, separator: " · "))</p>
        <p class="score" title="\(scoreTitle(result))">score <data value="\(result.score)">\(String(format: "%.3f", Double(result.score)))</data></p>
        \(explanation(result))<a class="more" href="\(more)">More like this<span class="visually-hidden">: \(result.name)</span></a>
        </li>

        """
    }

    /// What a result's score is.
    func scoreTitle(_ result: SearchResult) -> String {
        if result.explain?.rerank != nil { return "reranker score" }
        return mode == .text && (text.mode == .keyword || text.mode == .hybrid) ? "fused score (Reciprocal Rank Fusion)" : "cosine similarity"
    }

    /// A result's rank per retriever, when the search was explained.
    func explanation(_ result: SearchResult) -> HTML {
        guard let explain = result.explain else { return .empty }
        var items: [HTML] = []
        // Hybrid without a text index fuses keyword and CLIP only.
        for retriever in text.mode.retrievers where retriever != .text || hasTextIndex {
            guard let hit = explain.retrievers[retriever] else {
                items.append("<li>\(retriever.rawValue): not found</li>")
                continue
            }
            let score = hit.score.map { String(format: " (%.3f)", Double($0)) } ?? ""
            items.append("<li data-retriever=\"\(retriever.rawValue)\" data-rank=\"\(hit.rank)\">\(retriever.rawValue): #\(hit.rank)\(score)</li>")
        }
        items.append("<li data-fused=\"\(explain.fused)\">fused: \(String(format: "%.4f", explain.fused))</li>")
        if let rerank = explain.rerank { items.append("<li data-rerank=\"\(rerank)\">reranker: \(String(format: "%.3f", Double(rerank)))</li>") }
        return "<ul class=\"explain\">\(HTML(joining: items, separator: ""))</ul>\n"
    }

    // MARK: Paging and links

    func pager() -> HTML {
        guard let results, mode == .text || mode == .similar, page > 1 || hasNext, !results.isEmpty || page > 1 else {
            return "<nav id=\"pager\" class=\"pager\" aria-label=\"Pages\" hidden></nav>\n"
        }
        var out: HTML = "<nav id=\"pager\" class=\"pager\" aria-label=\"Pages\">"
        if page > 1 { out += "<a rel=\"prev\" href=\"\(pageURL(page - 1))\">← Previous</a>" }
        out += "<span class=\"page-number\" aria-current=\"page\">Page \(page)</span>"
        if hasNext { out += "<a rel=\"next\" href=\"\(pageURL(page + 1))\">Next →</a>" }
        return out + "</nav>\n"
    }

    func pageURL(_ number: Int) -> String {
        let q = mode == .text ? q : nil
        let similar = mode == .similar ? similar : nil
        let textMode = mode == .text
        return "/" + HTML.query([("q", q), ("similar", similar), ("category", category), ("market", market),
                                 ("exclude", exclude.joined(separator: ",")),
                                 ("understand", textMode && text.understand == false ? "false" : nil),
                                 ("mode", textMode && text.mode != .clip ? text.mode.rawValue : nil),
                                 ("rerank", textMode && text.rerank ? "true" : nil), ("explain", textMode && text.explain ? "true" : nil),
                                 ("k", perPage == Self.defaultPerPage ? nil : String(perPage)),
                                 ("page", number == 1 ? nil : String(number))])
    }

    func unfilteredURL() -> String {
        "/" + HTML.query([("q", mode == .text ? q : nil), ("similar", mode == .similar ? similar : nil)])
    }
}
