import Testing
@testable import VitrineIndex

@Suite struct ChecksumTests {
    /// Known answers of CRC32C (RFC 3720 appendix B.4 test vectors and the "123456789" check value).
    @Test func crc32cKnownAnswers() {
        #expect(CRC32C.checksum(Array("123456789".utf8)) == 0xE306_9283)
        #expect(CRC32C.checksum([UInt8](repeating: 0, count: 32)) == 0x8A91_36AA)
        #expect(CRC32C.checksum([UInt8](repeating: 0xFF, count: 32)) == 0x62A8_AB43)
        #expect(CRC32C.checksum((0..<32).map(UInt8.init)) == 0x46DD_794E)
        var split = CRC32C()
        split.update(Array("12345".utf8))
        split.update(Array("6789".utf8))
        #expect(split.value == 0xE306_9283)
    }

    @Test func bitsetOperations() {
        var a = Bitset(capacity: 200)
        for i in [1, 64, 130, 199] { a.insert(i) }
        var b = Bitset()
        b.insert(64)
        b.insert(500)
        #expect(a.count == 4)
        var both = a
        both.formIntersection(b)
        var ids: [Int] = []
        both.forEach { ids.append($0) }
        #expect(ids == [64])
        a.formUnion(b)
        #expect(a.contains(500) && a.count == 5)
        a.remove(1)
        #expect(!a.contains(1))
    }
}
