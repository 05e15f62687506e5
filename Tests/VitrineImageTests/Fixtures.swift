import Foundation
import VitrineTensor
import Testing

/// The committed fixtures under Tests/Fixtures, written by tools/fixtures/images.py.
enum Fixtures {
    static let root = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Fixtures")
    static let images = root.appendingPathComponent("images")

    struct Entry: Decodable, Sendable, CustomTestStringConvertible {
        let file: String
        let kind: String
        let width: Int
        let height: Int
        let parity: Bool
        let normalized: Bool
        let decoded: Bool
        let decoded_sha256: String
        let orientation: Int?

        var testDescription: String { file }
        var url: URL { Fixtures.images.appendingPathComponent(file) }
        func bytes() throws -> [UInt8] { [UInt8](try Data(contentsOf: url)) }
        var pixelsURL: URL { root.appendingPathComponent("pixels/\(file).npy") }
        var normalizedURL: URL { root.appendingPathComponent("normalized/\(file).npy") }
        var decodedURL: URL { root.appendingPathComponent("decoded/\(file).npy") }
    }

    static let manifest: [Entry] = {
        do {
            let data = try Data(contentsOf: images.appendingPathComponent("manifest.json"))
            return try JSONDecoder().decode([Entry].self, from: data)
        } catch {
            // An empty manifest would make every parameterised test vacuous; a separate test
            // checks the count, so report the problem there rather than trapping here.
            print("cannot read fixture manifest: \(error)")
            return []
        }
    }()

    static var parity: [Entry] { manifest.filter(\.parity) }
    static var photos: [Entry] { manifest.filter { $0.kind != "exif-orientation" } }
    static var oriented: [Entry] { manifest.filter { $0.kind == "exif-orientation" } }
}

extension NPYArray {
    var uint8: [UInt8] { data }
    var float32: [Float] { floats() }
}
