import Foundation
import VitrineModels

/// Zero-shot classification, the protocol of FashionCLIP's tables (and GLAMI-1M's eval_clip.py):
/// every class name becomes a text prompt; an image's class is the prompt nearest to it by
/// cosine. Reports top-1 and top-5 accuracy and weighted F1 (per-class F1 averaged by support,
/// as scikit-learn's `f1_score(average="weighted")`).
public struct ZeroShotReport: Sendable, Codable, Equatable {
    public struct ClassScore: Sendable, Codable, Equatable {
        public var name: String
        public var support: Int
        public var predicted: Int
        public var precision: Double
        public var recall: Double
        public var f1: Double
    }

    public var dataset: String
    public var model: String
    public var template: String
    public var images: Int
    public var top1: Double
    public var top5: Double
    public var weightedF1: Double
    public var macroF1: Double
    public var classes: [ClassScore]
    /// The prompt of each class, as the text tower read it.
    public var prompts: [String]
    /// Figures published for this protocol (pretrained weights), to read ours beside.
    public var published: [String: Double]?
    public var seconds: Double
    /// Each image's true class and the classes best first (for rechecking).
    public var predictions: [[Int]]?
}

public enum ZeroShot {
    /// Scores `similarities` (one row per image: its cosine to each class prompt) against `labels`.
    public static func score(similarities: [[Float]], labels: [Int], classNames: [String]) -> (top1: Double, top5: Double, classes: [ZeroShotReport.ClassScore], ranked: [[Int]]) {
        let n = labels.count
        var top1 = 0, top5 = 0
        var predictedCount = [Int](repeating: 0, count: classNames.count)
        var correct = [Int](repeating: 0, count: classNames.count)
        var support = [Int](repeating: 0, count: classNames.count)
        var ranked: [[Int]] = []
        for (row, label) in zip(similarities, labels) {
            // Best first; equal scores by class index, so the result does not depend on sorting.
            let order = row.indices.sorted { row[$0] != row[$1] ? row[$0] > row[$1] : $0 < $1 }
            ranked.append(order)
            support[label] += 1
            predictedCount[order[0]] += 1
            if order[0] == label { top1 += 1; correct[label] += 1 }
            if order.prefix(5).contains(label) { top5 += 1 }
        }
        let classes = classNames.indices.map { c -> ZeroShotReport.ClassScore in
            let precision = predictedCount[c] > 0 ? Double(correct[c]) / Double(predictedCount[c]) : 0
            let recall = support[c] > 0 ? Double(correct[c]) / Double(support[c]) : 0
            let f1 = precision + recall > 0 ? 2 * precision * recall / (precision + recall) : 0
            return ZeroShotReport.ClassScore(name: classNames[c], support: support[c], predicted: predictedCount[c],
                                             precision: precision, recall: recall, f1: f1)
        }
        return (n > 0 ? Double(top1) / Double(n) : 0, n > 0 ? Double(top5) / Double(n) : 0, classes, ranked)
    }

    /// Classifies `embeddings` (one per item) by their cosine to each prompt's text embedding.
    public static func classify(embeddings: [[Float]], labels: [Int], classNames: [String], prompts: [String],
                                text: any TextEncoder, dataset: String, model: String, template: String,
                                started: Date = Date()) throws -> ZeroShotReport {
        // Cosine: every vector scaled to unit length once, then dot products.
        let targets = try text.embed(texts: prompts).map(unit)
        let similarities = embeddings.map(unit).map { embedding in
            targets.map { target in zip(target, embedding).reduce(0) { $0 + $1.0 * $1.1 } }
        }
        let (top1, top5, classes, ranked) = score(similarities: similarities, labels: labels, classNames: classNames)
        let total = classes.reduce(0) { $0 + $1.support }
        let weighted = total > 0 ? classes.reduce(0) { $0 + $1.f1 * Double($1.support) } / Double(total) : 0
        let present = classes.filter { $0.support > 0 || $0.predicted > 0 }
        let macro = present.isEmpty ? 0 : present.reduce(0) { $0 + $1.f1 } / Double(present.count)
        return ZeroShotReport(dataset: dataset, model: model, template: template, images: embeddings.count, top1: top1, top5: top5,
                              weightedF1: weighted, macroF1: macro, classes: classes, prompts: prompts, published: nil,
                              seconds: Date().timeIntervalSince(started), predictions: zip(labels, ranked).map { [$0] + $1 })
    }

    /// GLAMI-1M's prompt for a category name, as its eval_clip.py writes it: the name made
    /// readable (`womens` → `women's`, hyphens → spaces, ` and ` → ` or `), in
    /// "A photo of a …, a type of fashion product".
    public static func glamiPrompt(category name: String) -> String {
        let readable = name.trimmingCharacters(in: .whitespacesAndNewlines)
            .replacingOccurrences(of: "women-s", with: "women's").replacingOccurrences(of: "womens", with: "women's")
            .replacingOccurrences(of: "men-s", with: "men's").replacingOccurrences(of: "mens", with: "men's")
            .replacingOccurrences(of: "-", with: " ").replacingOccurrences(of: " and ", with: " or ")
        return "A photo of a " + readable + ", a type of fashion product"
    }

    /// The sum of two embeddings, each scaled to unit length first (GLAMI's image + text features).
    public static func combined(_ a: [Float], _ b: [Float]) -> [Float] {
        let (na, nb) = (norm(a), norm(b))
        return zip(a, b).map { $0 / na + $1 / nb }
    }

    static func unit(_ v: [Float]) -> [Float] {
        let length = norm(v)
        return v.map { $0 / length }
    }

    static func norm(_ v: [Float]) -> Float { max(v.reduce(0) { $0 + $1 * $1 }.squareRoot(), .leastNormalMagnitude) }
}
