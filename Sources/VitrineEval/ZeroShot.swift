import Foundation
import VitrineImage
import VitrineModels
import VitrineSources

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

    /// Classifies `images` (decoded) into `classNames` with `template` ("a photo of a {}").
    public static func classify(images: [RGBImage], labels: [Int], classNames: [String], template: String,
                                text: CLIPTextEncoder, image: CLIPImageEncoder, batch: Int = 64,
                                dataset: String, model: String) throws -> ZeroShotReport {
        let started = Date()
        let prompts = try text.embed(texts: classNames.map { template.replacingOccurrences(of: "{}", with: $0) })
        var similarities: [[Float]] = []
        similarities.reserveCapacity(images.count)
        for start in stride(from: 0, to: images.count, by: batch) {
            for embedding in image.embed(images: Array(images[start..<min(start + batch, images.count)])) {
                similarities.append(prompts.map { prompt in zip(prompt, embedding).reduce(0) { $0 + $1.0 * $1.1 } / (norm(prompt) * norm(embedding)) })
            }
        }
        let (top1, top5, classes, ranked) = score(similarities: similarities, labels: labels, classNames: classNames)
        let total = classes.reduce(0) { $0 + $1.support }
        let weighted = total > 0 ? classes.reduce(0) { $0 + $1.f1 * Double($1.support) } / Double(total) : 0
        let present = classes.filter { $0.support > 0 || $0.predicted > 0 }
        let macro = present.isEmpty ? 0 : present.reduce(0) { $0 + $1.f1 } / Double(present.count)
        return ZeroShotReport(dataset: dataset, model: model, template: template, images: images.count, top1: top1, top5: top5,
                              weightedF1: weighted, macroF1: macro, classes: classes, seconds: Date().timeIntervalSince(started),
                              predictions: zip(labels, ranked).map { [$0] + $1 })
    }

    private static func norm(_ v: [Float]) -> Float { max(v.reduce(0) { $0 + $1 * $1 }.squareRoot(), .leastNormalMagnitude) }
}
