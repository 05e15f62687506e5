import Foundation
import Hummingbird
import HummingbirdTesting
import Testing
import VitrineEngine
@testable import VitrineServer

@Suite("web UI")
struct WebUIRouteTests {
    /// The product ids of the page's result cards, in order.
    static func cardIDs(_ html: String) -> [String] {
        html.matches(of: #/<li class="card" data-id="([^"]*)">/#).map { unescape(String($0.1)) }
    }

    static func unescape(_ text: String) -> String {
        text.replacingOccurrences(of: "&quot;", with: "\"").replacingOccurrences(of: "&#39;", with: "'")
            .replacingOccurrences(of: "&lt;", with: "<").replacingOccurrences(of: "&gt;", with: ">")
            .replacingOccurrences(of: "&amp;", with: "&")
    }

    /// The text of the page's alert, or nil when it is hidden.
    static func alert(_ html: String) -> String? {
        guard let match = html.firstMatch(of: #/<div id="error" class="error" role="alert"( hidden)?>([^<]*)<\/div>/#) else { return nil }
        return match.1 == nil ? unescape(String(match.2)) : nil
    }

    @Test func theStartPageHasTheFormsFiltersFromTheFacetsAndAnEmptyState() async throws {
        let server = try await ServerFixtures.server()
        try await ServerFixtures.test(server) { client in
            let response = try await client.execute(uri: "/", method: .get)
            #expect(response.status == .ok)
            #expect(response.headers[.contentType] == "text/html; charset=utf-8")
            #expect(response.headers[.contentSecurityPolicy]?.contains("script-src 'self'") == true)
            let html = response.text
            #expect(html.contains(#"<form id="search-form" class="search" role="search" method="get" action="/">"#))
            #expect(html.contains(#"<label for="q">"#) && html.contains(#"<label for="category">"#) && html.contains(#"<label for="market">"#))
            #expect(html.contains(#"<option value="shoes">Shoes (2)</option>"#))
            #expect(html.contains(#"<option value="cz">cz (3)</option>"#))
            #expect(html.contains(#"enctype="multipart/form-data""#) && html.contains(#"id="drop""#) && html.contains(#"tabindex="0""#))
            #expect(html.contains("to search 5 products"))
            #expect(WebUIRouteTests.cardIDs(html).isEmpty)
            #expect(WebUIRouteTests.alert(html) == nil)
            // Its own files only, versioned for caching.
            #expect(html.contains(#"<script src="/ui/vitrine.js?v="#) && html.contains(#"href="/ui/vitrine.css?v="#))
            #expect(!html.contains("http://") && !html.contains("https://"))
        }
    }

    @Test func textSearchIsRenderedOnTheServerAndPages() async throws {
        let server = try await ServerFixtures.server()
        try await ServerFixtures.test(server) { client in
            let api = try await client.execute(uri: "/api/v1/search?q=red+dress&k=5", method: .get).decode(SearchResponse.self)
            let first = try await client.execute(uri: "/?q=red+dress&k=2", method: .get)
            #expect(first.status == .ok)
            let html = first.text
            #expect(WebUIRouteTests.cardIDs(html) == api.results.prefix(2).map(\.id))
            #expect(html.contains(#"value="red dress""#))
            #expect(html.contains("Results for “red dress”"))
            #expect(html.contains(#"<a rel="next" href="/?q=red%20dress&amp;k=2&amp;page=2">"#))
            #expect(!html.contains(#"rel="prev""#))
            // Every card: a lazy thumbnail, name, category, market, score, and "more like this".
            let top = try #require(api.results.first)
            #expect(html.contains(#"<img src="\#(top.image)?w=256" alt="\#(top.name)" loading="lazy""#))
            #expect(html.contains(#"<span class="category">\#(top.category ?? "")</span>"#))
            #expect(html.contains(#"<a class="more" href="/?similar=\#(top.id)">More like this"#))
            #expect(html.contains(String(format: "%.3f", Double(top.score))))

            let second = try await client.execute(uri: "/?q=red+dress&k=2&page=2", method: .get).text
            #expect(WebUIRouteTests.cardIDs(second) == Array(api.results.map(\.id)[2..<4]))
            #expect(second.contains(#"rel="prev" href="/?q=red%20dress&amp;k=2""#))
            #expect(second.contains("Results 3–4"))
            let last = try await client.execute(uri: "/?q=red+dress&k=2&page=3", method: .get).text
            #expect(WebUIRouteTests.cardIDs(last).count == 1)
            #expect(!last.contains(#"rel="next""#))
            let beyond = try await client.execute(uri: "/?q=red+dress&k=2&page=9", method: .get)
            #expect(beyond.status == .ok)
            #expect(beyond.text.contains("No more results"))
        }
    }

    @Test func filtersHoldAndAreSelected() async throws {
        let server = try await ServerFixtures.server()
        try await ServerFixtures.test(server) { client in
            let html = try await client.execute(uri: "/?q=shoes&category=Shoes&market=cz", method: .get).text
            #expect(Set(WebUIRouteTests.cardIDs(html)) == ["p3", "p4"])
            #expect(html.contains(#"<option value="shoes" selected>"#))
            #expect(html.contains(#"<option value="cz" selected>"#))
            #expect(html.contains("category Shoes and market cz"))
            let none = try await client.execute(uri: "/?q=shoes&category=hats", method: .get)
            #expect(none.status == .ok)
            #expect(WebUIRouteTests.cardIDs(none.text).isEmpty)
            #expect(none.text.contains("No products match with these filters"))
            // An unknown filter value stays shown in its select.
            #expect(none.text.contains(#"<option value="hats" selected>hats (0)</option>"#))
        }
    }

    /// The mode, Explain and Rerank are offered, kept and applied; a bad mode is the API's 400.
    @Test func modesAndExplanations() async throws {
        let server = try await ServerFixtures.server()
        try await ServerFixtures.test(server) { client in
            let home = try await client.execute(uri: "/", method: .get).text
            #expect(home.contains(#"<option value="clip" selected>"#))
            #expect(!home.contains(#"id="rerank""#))  // no reranker loaded
            let html = try await client.execute(uri: "/?q=leather+boots&mode=keyword&explain=true", method: .get).text
            #expect(WebUIRouteTests.cardIDs(html) == ["p4"])
            #expect(html.contains(#"<option value="keyword" selected>"#))
            #expect(html.contains(#"name="explain" type="checkbox" value="true" checked"#))
            #expect(html.contains(#"data-retriever="keyword" data-rank="1""#))
            #expect(html.contains("fused score (Reciprocal Rank Fusion)"))
            let hybrid = try await client.execute(uri: "/?q=leather+boots&mode=hybrid&k=2", method: .get).text
            #expect(!hybrid.contains(#"class="explain""#))
            #expect(hybrid.contains("mode=hybrid"))  // the pager keeps the mode
            let bad = try await client.execute(uri: "/?q=boots&mode=vector", method: .get)
            #expect(bad.status == .badRequest)
            #expect(bad.text.contains("mode must be one of"))
        }
    }

    @Test func moreLikeThisLeavesTheProductOutAndUnknownIdsSayWhy() async throws {
        let server = try await ServerFixtures.server()
        try await ServerFixtures.test(server) { client in
            let response = try await client.execute(uri: "/?similar=bag%205%2Fx", method: .get)
            #expect(response.status == .ok)
            let ids = WebUIRouteTests.cardIDs(response.text)
            #expect(ids.count == ServerFixtures.catalog.count - 1)
            #expect(!ids.contains("bag 5/x"))
            #expect(response.text.contains("More like “tote bag”"))
            // The form keeps the view when only the filters change.
            #expect(response.text.contains(#"<input type="hidden" name="similar" value="bag 5/x">"#))
            let filtered = try await client.execute(uri: "/?q=&similar=p1&market=cz", method: .get).text
            #expect(Set(WebUIRouteTests.cardIDs(filtered)) == ["p3", "p4"])

            let unknown = try await client.execute(uri: "/?similar=nope", method: .get)
            #expect(unknown.status == .notFound)
            #expect(WebUIRouteTests.alert(unknown.text) == "No product with id nope.")
        }
    }

    @Test(arguments: [
        ("/?q=", 200, "Type what you are looking for, or search by photo."),
        ("/?q=%20%20", 200, "Type what you are looking for, or search by photo."),
        ("/?q=dress&page=0", 400, "Query parameter page must be between 1 and 167, not 0."),
        ("/?q=dress&k=abc", 400, "Query parameter k must be an integer, not \"abc\"."),
        ("/?q=%ZZ", 400, "Query parameter q is not valid percent-encoded UTF-8."),
        ("/?q=" + String(repeating: "a", count: 1001), 400, "The query is 1001 characters long; the limit is 1000."),
    ])
    func badInputIsShownOnThePageWithTheAPIsStatus(uri: String, status: Int, message: String) async throws {
        let server = try await ServerFixtures.server()
        try await ServerFixtures.test(server) { client in
            let response = try await client.execute(uri: uri, method: .get)
            #expect(Int(response.status.code) == status, "\(uri)")
            #expect(response.headers[.contentType] == "text/html; charset=utf-8")
            #expect(WebUIRouteTests.alert(response.text) == message, "\(uri)")
            #expect(WebUIRouteTests.cardIDs(response.text).isEmpty)
        }
    }

    /// Catalog text and the query are escaped everywhere they appear: cards, facets, heading,
    /// the search box, links.
    @Test func catalogAndQueryTextIsEscaped() async throws {
        let server = try await ServerFixtures.server { $0.apiKeys = [ServerFixtures.apiKey] }
        try await ServerFixtures.test(server) { client in
            let name = #"<script>alert("name")</script><img src=x onerror=alert(1)>"#
            let record = ["id": #"x"><script>alert('id')</script>"#, "name": name,
                          "category": #"c"><script>alert(2)</script>"#, "market": "<b>m</b>"]
            var form = MultipartBuilder()
            form.add(name: "product", data: try JSONSerialization.data(withJSONObject: record))
            form.add(name: "image", filename: "a.jpg", data: ServerFixtures.photo("baseline.jpg"))
            let created = try await client.execute(uri: "/api/v1/products", method: .post,
                                                   headers: [.contentType: form.contentType, .authorization: "Bearer \(ServerFixtures.apiKey)"],
                                                   body: form.finished())
            #expect(created.status == .created)

            let query = "<script>alert(3)</script>"
            let html = try await client.execute(uri: "/?q=" + HTML.percentEncode(query) + "&k=10", method: .get).text
            #expect(WebUIRouteTests.cardIDs(html).contains(record["id"]!))
            #expect(!html.contains("<script>alert"))
            #expect(!html.contains("<img src=x"))
            #expect(!html.contains("<b>m"))
            #expect(html.contains("&lt;script&gt;alert(&quot;name&quot;)&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt;"))
            #expect(html.contains("Results for “&lt;script&gt;alert(3)&lt;/script&gt;”"))
            // The only script element is the page's own.
            #expect(html.matches(of: #/<script/#).count == 1)
            let similar = try await client.execute(uri: "/?similar=" + HTML.percentEncode(record["id"]!), method: .get).text
            #expect(similar.contains("More like “&lt;script&gt;alert(&quot;name&quot;)"))
            #expect(similar.matches(of: #/<script/#).count == 1)
        }
    }

    @Test func thePhotoFormWorksWithoutJavaScript() async throws {
        let server = try await ServerFixtures.server()
        try await ServerFixtures.test(server) { client in
            var form = MultipartBuilder()
            form.add(name: "image", filename: "photo.webp", contentType: "image/webp", data: ServerFixtures.photo("lossy.webp"))
            form.add(name: "category", data: Data("shoes".utf8))
            form.add(name: "market", data: Data("".utf8))
            let response = try await client.execute(uri: "/ui/search-image", method: .post,
                                                    headers: [.contentType: form.contentType], body: form.finished())
            #expect(response.status == .ok)
            let ids = WebUIRouteTests.cardIDs(response.text)
            #expect(ids.first == "p3")
            #expect(Set(ids) == ["p3", "p4"])
            #expect(response.text.contains("Products like your photo"))

            var bad = MultipartBuilder()
            bad.add(name: "image", filename: "notes.txt", contentType: "text/plain", data: Data("not a photo".utf8))
            let refused = try await client.execute(uri: "/ui/search-image", method: .post,
                                                   headers: [.contentType: bad.contentType], body: bad.finished())
            #expect(refused.status == .unprocessableContent)
            #expect(refused.headers[.contentType] == "text/html; charset=utf-8")
            #expect(WebUIRouteTests.alert(refused.text)?.isEmpty == false)

            var empty = MultipartBuilder()
            empty.add(name: "image", filename: "", contentType: "application/octet-stream", data: Data())
            let none = try await client.execute(uri: "/ui/search-image", method: .post,
                                                headers: [.contentType: empty.contentType], body: empty.finished())
            #expect(none.status == .unprocessableContent)
            #expect(WebUIRouteTests.alert(none.text) == "Choose a photo to search with.")
        }
    }

    @Test func theScriptAndStylesheetAreServedWithCaching() async throws {
        let server = try await ServerFixtures.server()
        try await ServerFixtures.test(server) { client in
            let script = try await client.execute(uri: "/ui/vitrine.js?v=1", method: .get)
            #expect(script.status == .ok)
            #expect(script.headers[.contentType] == "text/javascript; charset=utf-8")
            #expect(script.text.contains("/api/v1/search/image"))
            let etag = try #require(script.headers[.eTag])
            let cached = try await client.execute(uri: "/ui/vitrine.js", method: .get, headers: [.ifNoneMatch: etag])
            #expect(cached.status == .notModified)
            let css = try await client.execute(uri: "/ui/vitrine.css", method: .get)
            #expect(css.headers[.contentType] == "text/css; charset=utf-8")
            #expect(css.text.contains(":focus-visible"))
            let missing = try await client.execute(uri: "/ui/nope.js", method: .get)
            #expect(missing.status == .notFound)
            #expect(try missing.error().code == "not_found")
        }
    }
}
