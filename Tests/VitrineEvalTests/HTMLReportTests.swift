import Foundation
import Testing
import VitrineEval

/// The HTML report: one self-contained page (no script, no external resource), catalog and
/// query text escaped, each mode's metrics and its worst queries shown.
struct HTMLReportTests {
    @Test func aSelfContainedPageWithEscapedText() throws {
        let judgements = Judgements(grades: ["q1": ["good": 1], "q2": ["<b>bold</b>": 2]], queries: ["q1", "q2"])
        let run = Run(scores: ["q1": [("bad", 0.9), ("good", 0.5)], "q2": [("x\"y", 0.4)]])
        let scores = Scoring.score(run, judgements, cutoffs: [5])
        let mode = EvalReport.mode("clip", scores: scores, run: run, k: 5, latencies: [1, 2], unsupported: 0,
                                   slices: (["q1": "dress & <skirt>"], [:]))
        let report = EvalReport(k: 5, queries: 2, modes: [mode], comparisons: [], warnings: .init())
        let queries = [EvalQuery(id: "q1", input: .text("red <script>alert(1)</script> dress")), EvalQuery(id: "q2", input: .image("/tmp/a.jpg"))]
        #expect(EvalHTMLReport.productsShown(report, judgements: judgements) == ["bad", "good", "x\"y", "<b>bold</b>"])
        let page = EvalHTMLReport.render(report, queries: queries, judgements: judgements, products: [
            "bad": .init(name: "Bad <img src=x onerror=alert(1)>", thumbnail: Data([0x89, 0x50, 0x4E, 0x47])),
        ])
        #expect(!page.contains("<script") && !page.contains("<img src=x") && !page.contains("<b>bold"))
        #expect(page.contains("red &lt;script&gt;alert(1)&lt;/script&gt; dress") && page.contains("Bad &lt;img src=x onerror=alert(1)&gt;"))
        #expect(page.contains("dress &amp; &lt;skirt&gt;") && page.contains("x&quot;y"))
        // Nothing loaded from elsewhere: every src is inline.
        let sources = page.components(separatedBy: "src=\"").dropFirst().map { $0.prefix(5) }
        #expect(!sources.isEmpty && sources.allSatisfy { $0 == "data:" })
        let rest = page.replacingOccurrences(of: "xmlns=\"http://www.w3.org/2000/svg\"", with: "")
        #expect(!rest.contains("http://") && !rest.contains("https://") && !rest.contains("href=") && !rest.contains("url("))
        #expect(page.contains("<svg") && page.contains("Worst queries of clip") && page.contains("<td>0.500 "))
        // q1: the relevant product at rank 2 (ndcg 1/log2(3) = 0.631), shown with its result marked.
        #expect(page.contains("figure class=\"hit\""))
    }
}
