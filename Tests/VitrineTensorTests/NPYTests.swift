import Foundation
import Testing
import VitrineTensor

@Suite struct NPYTests {
    @Test func roundTrip() throws {
        let array = NPYArray(float32: [1, -2.5, 3, 4, 5, 6], shape: [2, 3])
        let back = try NPYArray(bytes: array.serialized())
        #expect(back.shape == [2, 3] && back.dtype == .float32)
        #expect(back.floats() == [1, -2.5, 3, 4, 5, 6])
        #expect(array.serialized().count % 64 == 24)  // header padded to 64 bytes, then 24 data bytes
    }

    @Test func readsNumPyWrittenFiles() throws {
        // Written by numpy in the fixture script: a [n, 32] float32 matrix of unit rows.
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Fixtures/embeddings/image-p32.npy")
        let array = try NPYArray(contentsOf: url)
        #expect(array.dtype == .float32 && array.shape.count == 2 && array.shape[1] == 32)
        let values = array.floats()
        let norm = values[0..<32].reduce(0) { $0 + $1 * $1 }
        #expect(abs(norm - 1) < 1e-5)
    }

    @Test func rejectsBadInput() {
        #expect(throws: NPYError.self) { try NPYArray(bytes: []) }
        #expect(throws: NPYError.self) { try NPYArray(bytes: Array("hello world, not npy".utf8)) }
        var truncated = NPYArray(float32: [1, 2, 3], shape: [3]).serialized()
        truncated.removeLast(2)
        #expect(throws: NPYError.self) { try NPYArray(bytes: truncated) }
    }
}
