import Foundation
import Testing
import VitrineEval

/// The metrics against the reference libraries' own values on the committed fixtures
/// (Tests/Fixtures/eval, written and checked by tools/eval_reference.py with pytrec_eval and
/// ranx): equal to pytrec_eval on every case, per query and mean; to ranx wherever ranx ranks ties
/// as trec_eval does (docs/eval-metrics.md, "Where ranx and pytrec_eval differ").
struct MetricsTests {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/eval")

    struct Expected: Decodable {
        struct Library: Decodable {
            var mean: [Double]
            var per_query: [String: [Double]]?
        }
        struct Case: Decodable {
            var k: [Int]
            var metrics: [String]
            var libraries_agree: Bool
            var pytrec_eval: Library
            var ranx: Library
            var ranx_trec_order: Library?
            var ranx_tie_order_differs: [String: Int]?
        }
        var cases: [String: Case]
    }

    static func expected() throws -> Expected {
        try JSONDecoder().decode(Expected.self, from: Data(contentsOf: fixtures.appendingPathComponent("expected.json")))
    }

    /// Every case the fixture generator writes (the test below fails if one goes missing).
    static let caseNames = ["edge", "float32_ties", "graded", "random", "random_long", "ties", "unsorted_ties"]

    @Test func theFixturesHoldEveryCase() throws {
        #expect(try Self.expected().cases.keys.sorted() == Self.caseNames)
    }

    @Test(arguments: caseNames)
    func equalsTheReferenceLibraries(name: String) throws {
        let expected = try #require(try Self.expected().cases[name])
        let pytrec = try #require(expected.pytrec_eval.per_query)
        let ranx = try #require(expected.ranx.per_query)
        let judgements = try Judgements.read(Self.fixtures.appendingPathComponent("\(name).qrels"))
        let run = try Run.read(Self.fixtures.appendingPathComponent("\(name).run"))
        let scores = Scoring.score(run, judgements, cutoffs: expected.k)
        #expect(Set(scores.queries) == Set(pytrec.keys))
        // The fixtures keep 12 decimals.
        let tolerance = 1e-11
        for (index, metric) in expected.metrics.enumerated() {
            #expect(abs(scores.mean[metric]! - expected.pytrec_eval.mean[index]) < tolerance, "\(name) mean \(metric)")
            if let trecOrder = expected.ranx_trec_order {
                #expect(abs(scores.mean[metric]! - trecOrder.mean[index]) < tolerance, "\(name) ranx in trec_eval's order, mean \(metric)")
            }
            if expected.libraries_agree {
                #expect(abs(scores.mean[metric]! - expected.ranx.mean[index]) < tolerance, "\(name) ranx mean \(metric)")
            }
            for (query, values) in pytrec {
                #expect(abs(scores.perQuery[query]![metric]! - values[index]) < tolerance, "\(name) \(query) \(metric)")
            }
            for (query, values) in ranx where expected.ranx_tie_order_differs?[query] == nil {
                #expect(abs(scores.perQuery[query]![metric]! - values[index]) < tolerance, "\(name) \(query) ranx \(metric)")
            }
        }
    }

    @Test func ranksByFloatScoreThenDescendingBytes() {
        let order = Ranking.order([("p10", 0.5), ("p9", 0.5), ("B", 0.5), ("a", 0.5), ("top", 0.75)]).map(\.product)
        #expect(order == ["top", "p9", "p10", "a", "B"])
    }

    @Test func aRunFileWrittenReadsBackInTheSameOrder() throws {
        let run = Run(scores: ["q2": [("b", 0.1), ("a", 0.1), ("c", 0.30000001)], "q1": [("x", 1)]])
        let text = try run.trecText(tag: "clip")
        #expect(throws: EvalError.self) { try Run(scores: ["q": [("a b", 1)]]).trecText(tag: "t") }
        #expect(text.hasPrefix("q1 Q0 x 1 1.0 clip\nq2 Q0 c 1 0.3 clip\nq2 Q0 b 2 0.1 clip\nq2 Q0 a 3 0.1 clip\n"))
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("run-\(UUID().uuidString).txt")
        try Data(text.utf8).write(to: url)
        #expect(try Run.read(url).scores.mapValues { Ranking.order($0).map(\.product) } == ["q1": ["x"], "q2": ["c", "b", "a"]])
    }

    @Test func badLinesAreRefusedWithTheirLineNumber() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("eval-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        func write(_ name: String, _ text: String) throws -> URL {
            let url = folder.appendingPathComponent(name)
            try Data(text.utf8).write(to: url)
            return url
        }
        #expect(throws: EvalError.malformed(path: folder.appendingPathComponent("a.qrels").path, line: 2, reason: "relevance \"x\" is not an integer")) {
            try Judgements.read(try write("a.qrels", "q1 0 p1 1\nq1 0 p2 x\n"))
        }
        #expect(throws: EvalError.duplicate(path: folder.appendingPathComponent("b.qrels").path, line: 3, what: "the judgement of p1 for query q1")) {
            try Judgements.read(try write("b.qrels", "q1 0 p1 1\n\nq1 0 p1 2\n"))
        }
        #expect(throws: EvalError.self) { try Judgements.read(try write("c.qrels", "")) }
        #expect(throws: EvalError.self) { try Run.read(try write("d.run", "q1 Q0 p1 1 nan t\n")) }
        #expect(throws: EvalError.self) { try Run.read(try write("e.run", "q1 Q0 p1 1 0.5 t\nq1 Q0 p1 2 0.4 t\n")) }
        // The other layouts name their columns.
        let jsonl = try Judgements.read(try write("f.jsonl", "{\"qid\": \"q1\", \"product_id\": \"p1\", \"relevance\": 2}\n{\"qid\": 7, \"doc\": \"p2\", \"grade\": 1}\n"))
        #expect(jsonl.grades == ["q1": ["p1": 2], "7": ["p2": 1]])
        let csv = try Judgements.read(try write("g.csv", "qid,product_id,relevance\nq1,\"p,1\",1\n"))
        #expect(csv.grades == ["q1": ["p,1": 1]])
        // The preferred column wins wherever it stands; a spreadsheet's byte order mark is skipped.
        let preferred = try Judgements.read(try write("g2.csv", "\u{FEFF}query_id,id,qid,product_id,relevance\nx,7,q9,p9,2\n"))
        #expect(preferred.grades == ["q9": ["p9": 2]])
        #expect(throws: EvalError.malformed(path: folder.appendingPathComponent("g3.jsonl").path, line: 1,
                                            reason: "product id \"p 1\" is empty or has whitespace, which a TREC file cannot hold")) {
            try Judgements.read(try write("g3.jsonl", "{\"qid\": \"q\", \"product_id\": \"p 1\", \"relevance\": 1}\n"))
        }
        #expect(throws: EvalError.malformed(path: folder.appendingPathComponent("h.csv").path, line: 1,
                                            reason: "the header has no relevance column (or grade, rel)")) {
            try Judgements.read(try write("h.csv", "qid,product_id\nq1,p1\n"))
        }
        let queries = try EvalQuery.read(try write("q.jsonl", "{\"id\": \"a\", \"text\": \"red dress\"}\n{\"id\": \"b\", \"image\": \"x.jpg\", \"category\": \"shoes\"}\n"))
        #expect(queries == [EvalQuery(id: "a", input: .text("red dress")),
                            EvalQuery(id: "b", input: .image(folder.appendingPathComponent("x.jpg").path), category: "shoes")])
        #expect(throws: EvalError.self) { try EvalQuery.read(try write("r.jsonl", "{\"id\": \"a\", \"text\": \"x\", \"image\": \"y\"}\n")) }
        #expect(throws: EvalError.duplicate(path: folder.appendingPathComponent("s.csv").path, line: 3, what: "query id a")) {
            try EvalQuery.read(try write("s.csv", "id,text\na,red\na,blue\n"))
        }
    }

    @Test func intervalsAndPairedTestsBehave() {
        let values = (0..<200).map { Double($0 % 10) / 10 }
        let (low, high) = Scoring.interval(values)
        let mean = values.reduce(0, +) / Double(values.count)
        #expect(low < mean && mean < high && high - low < 0.15)
        // The same values: no difference; clearly better ones: a small p.
        #expect(Scoring.pairedPValue(values, values) == 1)
        #expect(Scoring.pairedPValue(values.map { $0 + 0.2 }, values) < 0.01)
        // Noise around zero: not significant.
        let noisy = values.enumerated().map { $0.element + ($0.offset % 2 == 0 ? 0.05 : -0.05) }
        #expect(Scoring.pairedPValue(noisy, values) > 0.2)
    }
}
