import Foundation
import Testing
@testable import VitrineImage

/// Preprocessing speed on one core. Opt-in (timing is meaningless in debug builds):
///   VITRINE_BENCH=1 swift test -c release --filter VitrineImageTests.ThroughputTests
@Suite(.enabled(if: ProcessInfo.processInfo.environment["VITRINE_BENCH"] == "1"))
struct ThroughputTests {
    @Test func resizeAndNormalizeThroughput() throws {
        let preprocessor = try clipPreprocessor()
        let images = try ["baseline.jpg", "progressive.jpg", "lossy.webp", "rgb.png", "large.jpg"].map {
            try ImageDecoder().decode(contentsOf: Fixtures.images.appendingPathComponent($0))
        }
        var out = [Float](repeating: 0, count: 3 * 224 * 224)
        let rounds = 40
        let clock = ContinuousClock()
        let elapsed = clock.measure {
            for _ in 0..<rounds {
                for image in images {
                    let crop = preprocessor.resizeAndCrop(image)
                    out.withUnsafeMutableBufferPointer { preprocessor.normalize(crop, into: $0) }
                }
            }
        }
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18
        let perSecond = Double(rounds * images.count) / seconds
        print("preprocess (resize + crop + normalize): \(Int(perSecond)) images/s")

        let files = try ["baseline.jpg", "progressive.jpg", "lossy.webp", "rgb.png"].map {
            try Data(contentsOf: Fixtures.images.appendingPathComponent($0))
        }
        let decodeElapsed = clock.measure {
            for _ in 0..<rounds { for file in files { _ = try? ImageDecoder().decode(file) } }
        }
        let decodeSeconds = Double(decodeElapsed.components.seconds) + Double(decodeElapsed.components.attoseconds) * 1e-18
        print("decode: \(Int(Double(rounds * files.count) / decodeSeconds)) images/s")
    }
}
