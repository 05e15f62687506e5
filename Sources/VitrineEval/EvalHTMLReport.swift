import Foundation
import VitrineCore

/// The report as one self-contained HTML page (no script, no external file: charts are inline
/// SVG, thumbnails data URIs), so it opens offline and can be kept as a CI artifact: each mode's
/// metrics with their intervals, the per-category breakdown, the paired tests, and the worst
/// queries with their top results.
public enum EvalHTMLReport {
    /// What the page shows of a product: its name and a small PNG.
    public struct Product: Sendable {
        public var name: String
        public var thumbnail: Data?
        public init(name: String, thumbnail: Data?) {
            self.name = name
            self.thumbnail = thumbnail
        }
    }

    /// How many of the worst queries each mode shows, and how many results of each.
    public static let worstQueries = 8
    public static let resultsShown = 5

    /// The products the page shows: the worst queries' top results and relevant products.
    public static func productsShown(_ report: EvalReport, judgements: Judgements) -> Set<String> {
        var ids = Set<String>()
        for mode in report.modes {
            for query in worst(mode, k: report.k) {
                let (shown, missed) = shownAndMissed(mode, query, judgements)
                ids.formUnion(shown)
                ids.formUnion(missed)
            }
        }
        return ids
    }

    /// A worst query's top results, and the relevant products not among them (sorted), as shown.
    static func shownAndMissed(_ mode: EvalReport.Mode, _ query: String, _ judgements: Judgements) -> (shown: [String], missed: [String]) {
        let shown = Array(mode.rankings[query]?.prefix(resultsShown) ?? [])
        let relevant = (judgements.grades[query] ?? [:]).filter { $0.value >= 1 }.keys
        return (shown, Array(relevant.filter { !shown.contains($0) }.sorted().prefix(resultsShown)))
    }

    static func worst(_ mode: EvalReport.Mode, k: Int) -> [String] {
        let metric = RetrievalMetric.ndcg.name(k)
        return mode.perQuery.keys.sorted { a, b in
            let (x, y) = (mode.perQuery[a]?[metric] ?? 0, mode.perQuery[b]?[metric] ?? 0)
            return x != y ? x < y : a < b
        }.prefix(worstQueries).map { $0 }
    }

    public static func render(_ report: EvalReport, queries: [EvalQuery], judgements: Judgements, products: [String: Product],
                              title: String = "Vitrine search evaluation") -> String {
        let names = EvalReport.metricNames(report.k)
        let queryText = Dictionary(uniqueKeysWithValues: queries.map { query -> (String, String) in
            switch query.input {
            case .text(let text): (query.id, text)
            case .image(let path): (query.id, "photo " + URL(fileURLWithPath: path).lastPathComponent)
            }
        })
        var html = """
        <!doctype html>
        <html lang="en"><head><meta charset="utf-8"><title>\(escape(title))</title>
        <style>
        body{font:14px/1.45 system-ui,sans-serif;margin:2rem auto;max-width:72rem;color:#1d1d1f;padding:0 1rem}
        h1{font-size:1.5rem}h2{font-size:1.15rem;margin-top:2rem;border-bottom:1px solid #ddd;padding-bottom:.25rem}
        table{border-collapse:collapse;margin:.5rem 0}td,th{padding:.3rem .6rem;text-align:right;border-bottom:1px solid #eee}
        th:first-child,td:first-child{text-align:left}.ci{color:#777;font-size:.85em}.sig{font-weight:600}
        .query{margin:1rem 0;padding:.5rem;border:1px solid #eee;border-radius:6px}.results{display:flex;gap:.5rem;flex-wrap:wrap}
        figure{margin:0;width:96px;font-size:.75rem;text-align:center}figure img{width:96px;height:96px;object-fit:contain;background:#f5f5f5;border:3px solid transparent}
        figure.hit img{border-color:#2a9d3f}.warn{color:#a15c00}
        </style></head><body>
        <h1>\(escape(title))</h1>
        <p>\(report.queries) judged queries · metrics at k = \(report.k) · 95% bootstrap intervals · relevant = grade ≥ 1</p>

        """
        let warnings = EvalRunner.describe(report.warnings)
        if !warnings.isEmpty { html += "<p class=\"warn\">\(escape(warnings))</p>\n" }

        html += "<h2>Modes</h2>\n<table><tr><th>mode</th>" + names.map { "<th>\($0)</th>" }.joined() + "<th>p50 ms</th><th>p99 ms</th></tr>\n"
        for mode in report.modes {
            html += "<tr><td>\(escape(mode.mode))</td>"
            for name in names {
                let value = mode.metrics[name] ?? 0
                let interval = mode.intervals[name].map { " <span class=\"ci\">[\(format($0.lower))–\(format($0.upper))]</span>" } ?? ""
                html += "<td>\(format(value))\(interval)</td>"
            }
            html += "<td>\(String(format: "%.1f", mode.latencyMs.p50))</td><td>\(String(format: "%.1f", mode.latencyMs.p99))</td></tr>\n"
        }
        html += "</table>\n" + chart(report, names: names)

        if !report.comparisons.isEmpty {
            html += "<h2>Paired tests</h2>\n<table><tr><th>modes</th>" + names.map { "<th>\($0)</th>" }.joined() + "</tr>\n"
            var pairs: [String] = []
            for c in report.comparisons where !pairs.contains("\(c.a)|\(c.b)") { pairs.append("\(c.a)|\(c.b)") }
            for pair in pairs {
                let parts = pair.split(separator: "|").map(String.init)
                html += "<tr><td>\(escape(parts[0])) − \(escape(parts[1]))</td>"
                for name in names {
                    guard let c = report.comparisons.first(where: { $0.a == parts[0] && $0.b == parts[1] && $0.metric == name }) else {
                        html += "<td></td>"; continue
                    }
                    html += "<td\(c.pValue < 0.05 ? " class=\"sig\"" : "")>\(c.delta >= 0 ? "+" : "")\(format(c.delta)) <span class=\"ci\">p \(c.pValue < 0.001 ? "&lt; 0.001" : format(c.pValue))</span></td>"
                }
                html += "</tr>\n"
            }
            html += "</table>\n<p class=\"ci\">Two-sided paired randomization test over the judged queries; bold: p &lt; 0.05.</p>\n"
        }

        let ndcg = RetrievalMetric.ndcg.name(report.k)
        for (title, slices) in [("By category", report.modes.map(\.byCategory)), ("By market", report.modes.map(\.byMarket))] {
            let keys = Set(slices.flatMap(\.keys)).sorted()
            guard !keys.isEmpty, keys != ["(none)"] else { continue }
            html += "<h2>\(title): \(ndcg)</h2>\n<table><tr><th></th><th>queries</th>" + report.modes.map { "<th>\(escape($0.mode))</th>" }.joined() + "</tr>\n"
            for key in keys {
                let count = slices.compactMap { $0[key]?.queries }.first ?? 0
                html += "<tr><td>\(escape(key))</td><td>\(count)</td>" + slices.map { "<td>\(format($0[key]?.metrics[ndcg] ?? 0))</td>" }.joined() + "</tr>\n"
            }
            html += "</table>\n"
        }

        for mode in report.modes {
            html += "<h2>Worst queries of \(escape(mode.mode)) (lowest \(ndcg))</h2>\n"
            for query in worst(mode, k: report.k) {
                let relevant = (judgements.grades[query] ?? [:]).filter { $0.value >= 1 }
                html += "<div class=\"query\"><b>\(escape(queryText[query] ?? query))</b> <span class=\"ci\">\(escape(query)) · \(ndcg) \(format(mode.perQuery[query]?[ndcg] ?? 0)) · \(relevant.count) relevant</span>\n<div class=\"results\">"
                let (shown, missed) = shownAndMissed(mode, query, judgements)
                if shown.isEmpty { html += "<span class=\"ci\">no results</span>" }
                for (rank, id) in shown.enumerated() {
                    html += figure(id, products[id], caption: "\(rank + 1). ", hit: (relevant[id] ?? 0) >= 1)
                }
                html += "</div>\n"
                if !missed.isEmpty {
                    html += "<div class=\"results\"><span class=\"ci\">relevant, not in the top \(resultsShown):</span>"
                    for id in missed { html += figure(id, products[id], caption: "", hit: true) }
                    html += "</div>\n"
                }
                html += "</div>\n"
            }
        }
        return html + "</body></html>\n"
    }

    /// One grouped bar per metric, one bar per mode, with its interval as a whisker.
    static func chart(_ report: EvalReport, names: [String]) -> String {
        let colours = ["#3b6fd4", "#e07a1f", "#2a9d3f", "#b23a8f", "#6b6b6b"]
        let (width, height, left, bottom) = (760.0, 240.0, 40.0, 30.0)
        let group = (width - left) / Double(names.count)
        let bar = min(28, group * 0.8 / Double(max(report.modes.count, 1)))
        var svg = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(width))\" height=\"\(Int(height + 20))\" role=\"img\" aria-label=\"metrics by mode\">\n"
        for tick in stride(from: 0.0, through: 1.0, by: 0.25) {
            let y = height - bottom - tick * (height - bottom - 10)
            svg += "<line x1=\"\(left)\" x2=\"\(width)\" y1=\"\(y)\" y2=\"\(y)\" stroke=\"#eee\"/><text x=\"\(left - 6)\" y=\"\(y + 4)\" font-size=\"10\" text-anchor=\"end\">\(tick)</text>\n"
        }
        func y(_ value: Double) -> Double { height - bottom - max(0, min(1, value)) * (height - bottom - 10) }
        for (i, name) in names.enumerated() {
            let x0 = left + Double(i) * group + (group - bar * Double(report.modes.count)) / 2
            for (m, mode) in report.modes.enumerated() {
                let value = mode.metrics[name] ?? 0
                let x = x0 + Double(m) * bar
                svg += "<rect x=\"\(x)\" y=\"\(y(value))\" width=\"\(bar - 2)\" height=\"\(height - bottom - y(value))\" fill=\"\(colours[m % colours.count])\"><title>\(escape(mode.mode)) \(name) \(format(value))</title></rect>\n"
                if let interval = mode.intervals[name] {
                    let cx = x + (bar - 2) / 2
                    svg += "<line x1=\"\(cx)\" x2=\"\(cx)\" y1=\"\(y(interval.upper))\" y2=\"\(y(interval.lower))\" stroke=\"#222\"/>\n"
                }
            }
            svg += "<text x=\"\(left + Double(i) * group + group / 2)\" y=\"\(height - bottom + 16)\" font-size=\"11\" text-anchor=\"middle\">\(name)</text>\n"
        }
        for (m, mode) in report.modes.enumerated() {
            svg += "<rect x=\"\(left + Double(m) * 110)\" y=\"\(height + 4)\" width=\"10\" height=\"10\" fill=\"\(colours[m % colours.count])\"/><text x=\"\(left + Double(m) * 110 + 14)\" y=\"\(height + 13)\" font-size=\"11\">\(escape(mode.mode))</text>\n"
        }
        return svg + "</svg>\n"
    }

    static func figure(_ id: String, _ product: Product?, caption: String, hit: Bool) -> String {
        let image = product?.thumbnail.map { "<img alt=\"\" src=\"data:image/png;base64,\($0.base64EncodedString())\">" }
            ?? "<img alt=\"\" src=\"data:image/svg+xml;base64,\(Data("<svg xmlns='http://www.w3.org/2000/svg'/>".utf8).base64EncodedString())\">"
        return "<figure class=\"\(hit ? "hit" : "miss")\">\(image)<figcaption>\(escape(caption + (product?.name ?? id)))</figcaption></figure>"
    }

    static func format(_ value: Double) -> String { String(format: "%.3f", value) }

    static func escape(_ text: String) -> String { HTMLEscape.text(text) }
}
