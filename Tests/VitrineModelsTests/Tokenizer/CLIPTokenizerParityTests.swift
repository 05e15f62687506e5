import Foundation
import Testing
@testable import VitrineModels

/// Token for token equality with transformers 5's `CLIPTokenizer` (see tools/fixtures/tokenizer.py).
@Suite struct CLIPTokenizerParityTests {
    @Test(arguments: ["cases.json", "random.json"])
    func everyFixtureCaseMatchesTheReference(file: String) throws {
        let tokenizer = try TokenizerFixtures.clip.get()
        let cases = try TokenizerFixtures.cases(file)
        #expect(cases.count >= 60)
        var identical = 0
        for fixture in cases {
            let got = tokenizer.encode(fixture.text)
            #expect(
                got.ids == fixture.ids && got.truncated == fixture.truncated,
                """
                text: \(fixture.text.debugDescription)
                expected: \(fixture.ids) truncated=\(fixture.truncated)
                got:      \(got.ids) truncated=\(got.truncated)
                """
            )
            if got.ids == fixture.ids && got.truncated == fixture.truncated { identical += 1 }
        }
        #expect(identical == cases.count, "\(identical) of \(cases.count) cases identical")
    }

    @Test func specialTokenIDsAndVocabularySize() throws {
        let tokenizer = try TokenizerFixtures.clip.get()
        #expect(tokenizer.bosTokenID == 49406)
        #expect(tokenizer.eosTokenID == 49407)
        #expect(tokenizer.vocabularySize == 49408)
    }

    @Test func emptyTextIsJustTheFrame() throws {
        let tokenizer = try TokenizerFixtures.clip.get()
        #expect(tokenizer.encode("") == TokenizedText(ids: [49406, 49407], truncated: false))
        #expect(tokenizer.encode(" \n\t\u{3000}") == TokenizedText(ids: [49406, 49407], truncated: false))
    }

    /// Shorter limits keep a prefix of the content and still end with `<|endoftext|>`.
    @Test(arguments: [0, 1, 2, 3, 5, 10, 76, 77, 78, 200])
    func otherMaximumLengths(maxLength: Int) throws {
        let tokenizer = try TokenizerFixtures.clip.get()
        let text = "a photo of a " + String(repeating: "very ", count: 100) + "red dress"
        let full = tokenizer.encode(text, maxLength: 1_000)
        #expect(!full.truncated)
        let content = full.ids.dropFirst().dropLast()
        let budget = max(maxLength, 2) - 2
        let got = tokenizer.encode(text, maxLength: maxLength)
        #expect(got.ids == [49406] + content.prefix(budget) + [49407])
        #expect(got.truncated == (content.count > budget))
    }

    /// A huge text stops being processed once the result is known; it must still be correct.
    @Test func hugeTextsAreTruncatedExactly() throws {
        let tokenizer = try TokenizerFixtures.clip.get()
        let words = String(repeating: "red floral summer dress ", count: 200_000)
        let got = tokenizer.encode(words)
        let expected = tokenizer.encode(String(words.prefix(2_000)))
        #expect(got == expected && got.ids.count == 77 && got.truncated)

        // One enormous word cannot be cut early; it must still finish and be right.
        let word = String(repeating: "x", count: 200_000)
        let long = tokenizer.encode(word)
        #expect(long.ids.count == 77 && long.truncated && long.ids.last == 49407)
    }

    /// Whatever the input, encoding returns a well-formed result instead of trapping.
    @Test func arbitraryScalarsNeverTrap() throws {
        let tokenizer = try TokenizerFixtures.clip.get()
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<300 {
            var scalars = String.UnicodeScalarView()
            for _ in 0..<Int.random(in: 0...60, using: &generator) {
                let value = UInt32.random(in: 0...0x10FFFF, using: &generator)
                scalars.append(Unicode.Scalar(value) ?? "\u{FFFD}")
            }
            let got = tokenizer.encode(String(scalars))
            #expect(got.ids.first == 49406 && got.ids.last == 49407 && got.ids.count <= 77)
            #expect(got.ids.allSatisfy { $0 >= 0 && Int($0) < tokenizer.vocabularySize })
        }
    }

    /// The tokenizer is shared across tasks; its cache must not change results.
    @Test func concurrentUseGivesTheSameIDs() async throws {
        let tokenizer = try TokenizerFixtures.clip.get()
        let cases = try TokenizerFixtures.cases()
        let mismatches = await withTaskGroup(of: Int.self) { group in
            for _ in 0..<8 {
                group.addTask {
                    cases.shuffled().filter { tokenizer.encode($0.text).ids != $0.ids }.count
                }
            }
            return await group.reduce(0, +)
        }
        #expect(mismatches == 0)
    }
}
