import Foundation
@testable import VitrineModels

/// The committed tokenizer fixtures: the real CLIP vocabulary and the reference's encodings.
enum TokenizerFixtures {
    struct Case: Decodable, Sendable {
        var text: String
        var ids: [Int32]
        var truncated: Bool
    }

    /// `Tests/Fixtures`, found from this file's path so tests need no bundle resources.
    static let root = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent()  // Tokenizer
        .deletingLastPathComponent()  // VitrineModelsTests
        .deletingLastPathComponent()  // Tests
        .appendingPathComponent("Fixtures")

    static let clipDirectory = root.appendingPathComponent("clip-tokenizer")

    /// Loaded once: parsing the 49,408-token vocabulary and 48,894 merges is the slow part.
    static let clip: Result<CLIPTokenizer, TokenizerError> = Result { () throws(TokenizerError) in
        try CLIPTokenizer(directory: clipDirectory)
    }

    /// `cases.json` (hand-picked hard strings) or `random.json` (seeded random strings).
    static func cases(_ file: String = "cases.json") throws -> [Case] {
        let data = try Data(contentsOf: root.appendingPathComponent("tokenizer").appendingPathComponent(file))
        return try JSONDecoder().decode([Case].self, from: data)
    }
}
