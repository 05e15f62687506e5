import Crypto
import Foundation
import Testing
import VitrineCatalog
import VitrineCore

/// What every blob store must do alike, run on files and, when the test server runs, on S3.
@Suite struct BlobStoreConformanceTests {
    @Test(arguments: BlobBackend.available)
    func putIsContentAddressedAndIdempotent(_ backend: BlobBackend) throws {
        let (store, dispose) = try backend.make()
        defer { dispose() }
        let bytes = Data("a product photo".utf8) + Data((0..<5000).map { UInt8($0 % 251) })
        let key = try store.put(bytes, ext: "jpg")
        #expect(key.sha256 == Hex.encode(SHA256.hash(data: bytes)))
        #expect(try store.put(bytes, ext: "jpg") == key)
        #expect(try store.keys() == [key])
        #expect(try store.get(key) == bytes)
        #expect(try store.contains(key))
        #expect(try store.size(of: key) == bytes.count)
        let png = try store.put(bytes, ext: "png")
        #expect(png.sha256 == key.sha256 && png != key)
        #expect(try store.keys() == [key, png].sorted())
        #expect(store.location(of: key).contains(key.description))
    }

    @Test(arguments: BlobBackend.available)
    func emptyAndMissingBlobs(_ backend: BlobBackend) throws {
        let (store, dispose) = try backend.make()
        defer { dispose() }
        let empty = try store.put(Data(), ext: "bin")
        #expect(try store.get(empty) == Data())
        #expect(try store.size(of: empty) == 0)
        let absent = blobKey(7)
        #expect(try !store.contains(absent))
        #expect(try store.size(of: absent) == nil)
        #expect(catalogError { _ = try store.get(absent) } == .blobNotFound(absent))
        try store.delete(absent)  // absent keys are ignored
        guard case .invalidArgument? = catalogError({ _ = try store.put(Data([1]), ext: "exe") }) else {
            Issue.record("an unknown extension was accepted")
            return
        }
    }

    /// Listing is complete past a page (S3 pages 1,000 keys; SeaweedFS may page fewer) and
    /// deletes are seen at once.
    @Test(arguments: BlobBackend.available)
    func keysListEverythingAndDeleteRemoves(_ backend: BlobBackend) throws {
        let (store, dispose) = try backend.make()
        defer { dispose() }
        let count = backend == .s3 ? 1_050 : 300
        var keys: [BlobKey] = []
        for n in 0..<count { keys.append(try store.put(Data("blob \(n)".utf8), ext: "png")) }
        #expect(try store.keys() == keys.sorted())
        for key in keys.prefix(10) { try store.delete(key) }
        #expect(try store.keys() == Array(keys.dropFirst(10)).sorted())
        #expect(try !store.contains(keys[0]))
        #expect(try store.removeLeftovers() == 0)
    }

    /// Bytes of every value survive, including a blob above the S3 store's multipart threshold.
    @Test(arguments: BlobBackend.available)
    func largeBlobsRoundTrip(_ backend: BlobBackend) throws {
        let (store, dispose) = try backend.make()
        defer { dispose() }
        var generator = SplitMix64(seed: 42)
        let large = Data((0..<(11 << 20)).map { _ in UInt8(truncatingIfNeeded: generator.next()) })
        let key = try store.put(large, ext: "bin")
        #expect(try store.size(of: key) == large.count)
        #expect(try store.get(key) == large)
        #expect(try store.keys() == [key])
    }
}
