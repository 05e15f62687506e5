import Testing
import VitrineCatalog
import VitrineEngine
@testable import VitrineServer

/// A category filter names one category: the one with exactly that id when it exists (a shop's
/// `dress` beside Fashion-MNIST's "Dress", id 3), else those with that id or name ignoring case;
/// the web UI marks exactly one option selected.
@Suite struct FilterIdentityTests {
    static let facets = [
        FacetCount(value: "3", name: "Dress", count: 40),
        FacetCount(value: "dress", name: "Summer dresses", count: 12),
        FacetCount(value: "7", name: "Sneaker", count: 9),
    ]

    @Test func anExactIDWinsOverANameThatMatchesIgnoringCase() {
        #expect(SearchEngine.categoryIDs(matching: "dress", in: Self.facets) == ["dress"])
        #expect(SearchEngine.categoryIDs(matching: "3", in: Self.facets) == ["3"])
        #expect(SearchEngine.categoryIDs(matching: "Dress", in: Self.facets) == ["3"])
        #expect(SearchEngine.categoryIDs(matching: "SNEAKER", in: Self.facets) == ["7"])
        #expect(SearchEngine.categoryIDs(matching: "DRESS", in: Self.facets) == ["3", "dress"])
        #expect(SearchEngine.categoryIDs(matching: "bag", in: Self.facets).isEmpty)
    }

    @Test func theUISelectsExactlyOneOption() {
        for (value, expected) in [("dress", "dress"), ("Dress", "3"), ("DRESS", "3")] {
            var page = WebUIPage(assets: WebUIAssets(files: [:]))
            page.mode = .text
            page.q = "x"
            page.categories = Self.facets
            page.category = value
            let html = page.options(Self.facets, selected: value).description
            #expect(html.components(separatedBy: " selected>").count - 1 == 1, "\(value)")
            #expect(html.contains("<option value=\"\(expected)\" selected>"), "\(value)")
            // The page shows that select's options, and the mode select its own one choice.
            let rendered = page.render().description
            #expect(rendered.contains(html))
            #expect(rendered.components(separatedBy: " selected>").count - 1 == 2, "\(value)")
        }
    }
}
