import Testing
@testable import VitrineServer

/// ``HTML`` escapes every interpolated value unless it is markup already, so the web UI has no
/// escaping call to forget.
@Suite struct HTMLTests {
    @Test func interpolatedTextIsEscapedInElementsAndAttributes() {
        let name = "<script>alert(\"x\")</script> & 'co'"
        let html: HTML = "<p title=\"\(name)\">\(name)</p>"
        #expect(html.description == "<p title=\"&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;co&#39;\">"
            + "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;co&#39;</p>")
    }

    @Test func numbersAndOtherValuesAreEscapedText() {
        struct Sneaky: CustomStringConvertible { var description: String { "<b>" } }
        let html: HTML = "\(42) \(Float(0.5)) \(Sneaky())"
        #expect(html.description == "42 0.5 &lt;b&gt;")
    }

    @Test func markupIsInsertedOnlyWhenItIsHTML() {
        let item: HTML = "<li>\("a<b")</li>"
        let list: HTML = "<ul>\(item)\([item, item])</ul>"
        #expect(list.description == "<ul><li>a&lt;b</li><li>a&lt;b</li><li>a&lt;b</li></ul>")
        // The same text as a String is escaped, never taken as markup.
        let text = item.description
        let escaped: HTML = "\(text)"
        #expect(escaped.description == "&lt;li&gt;a&amp;lt;b&lt;/li&gt;")
        #expect(HTML(joining: [item, item], separator: " · ").description == "<li>a&lt;b</li> · <li>a&lt;b</li>")
    }

    @Test func urlsAreTextWhoseAmpersandsAreEscaped() {
        let url = "/" + HTML.query([("q", "red & blue"), ("category", nil), ("market", "cz")])
        #expect(url == "/?q=red%20%26%20blue&market=cz")
        let link: HTML = "<a href=\"\(url)\">x</a>"
        #expect(link.description == "<a href=\"/?q=red%20%26%20blue&amp;market=cz\">x</a>")
    }

    @Test func aRenderedPageEscapesCatalogText() throws {
        var page = WebUIPage(assets: WebUIAssets(files: [:]))
        page.mode = .text
        page.q = "\"><script>alert(1)</script>"
        let html = page.render().description
        #expect(!html.contains("<script>alert"))
        #expect(html.contains("value=\"&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;\""))
    }
}
