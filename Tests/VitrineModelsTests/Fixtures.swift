import Foundation
import VitrineTensor

/// Paths of the parity fixtures written by `tools/make_fixtures.sh`.
enum Fixtures {
    static let root = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Fixtures")

    static func model(_ name: String) -> URL { root.appendingPathComponent("models/\(name)") }

    /// The full-size ViT-B/32 fixtures of `make_fixtures.sh --full` (not committed), if present.
    static var full: URL? {
        let dir = URL(fileURLWithPath: ProcessInfo.processInfo.environment["VITRINE_FULL_FIXTURES"]
            ?? root.deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent(".fixtures-full").path)
        return FileManager.default.fileExists(atPath: dir.appendingPathComponent("image.npy").path) ? dir : nil
    }

    /// Rows of a 2-D float32 `.npy` file.
    static func matrix(_ url: URL) throws -> [[Float]] {
        let array = try NPYArray(contentsOf: url)
        let values = array.floats()
        let cols = array.shape.last ?? 0
        return stride(from: 0, to: values.count, by: max(cols, 1)).map { Array(values[$0..<$0 + cols]) }
    }

    struct EmbeddedText: Decodable { let text: String; let ids: [Int32] }

    static func texts(_ url: URL) throws -> [EmbeddedText] {
        try JSONDecoder().decode([EmbeddedText].self, from: Data(contentsOf: url))
    }
}

/// How close two embeddings are: cosine similarity and largest absolute difference.
struct Closeness: CustomStringConvertible {
    let cosine: Float
    let maxDifference: Float

    init(_ a: [Float], _ b: [Float]) {
        precondition(a.count == b.count)
        var dot: Float = 0, na: Float = 0, nb: Float = 0, worst: Float = 0
        for (x, y) in zip(a, b) {
            dot += x * y; na += x * x; nb += y * y
            worst = max(worst, abs(x - y))
        }
        cosine = dot / (na.squareRoot() * nb.squareRoot())
        maxDifference = worst
    }

    /// The acceptance: cosine ≥ 0.99999 and max |difference| ≤ 1e-4.
    var isParity: Bool { cosine >= 0.99999 && maxDifference <= 1e-4 }
    var description: String { "cosine \(cosine), max difference \(maxDifference)" }
}
