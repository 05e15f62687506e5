import Testing
@testable import VitrineTensor

@Suite struct ScratchTests {
    @Test func sizeClassesArePowersOfTwoAtOrAboveTheRequest() {
        #expect(Scratch.sizeClass(0) == 64)
        #expect(Scratch.sizeClass(64) == 64)
        #expect(Scratch.sizeClass(65) == 128)
        #expect(Scratch.sizeClass(1 << 20) == 1 << 20)
        #expect(Scratch.sizeClass((1 << 20) + 1) == 1 << 21)
    }

    /// A large buffer given back is the next one taken of its class, aligned and big enough, and
    /// the free list never holds more than its limit.
    @Test func largeBuffersAreReusedAndTheFreeListStaysBounded() {
        let size = 40 << 20  // a size class (64 MiB) no other test in this process asks for
        let first = Scratch.take(bytes: size)
        #expect(first.size == 64 << 20 && Int(bitPattern: first.pointer) % 64 == 0)
        first.pointer.storeBytes(of: 0x5EED, as: Int.self)
        // Kept unless the suites running beside this one filled the free list first.
        if Scratch.give(first) {
            let again = Scratch.take(bytes: size)
            #expect(again.pointer == first.pointer)
            #expect(again.pointer.load(as: Int.self) == 0x5EED)
            Scratch.give(again)
        }
        #expect(!Scratch.give(Scratch.take(bytes: 1000)))  // small buffers go back to malloc

        var taken = (0..<(Scratch.retainedLimit / (8 << 20) + 4)).map { _ in Scratch.take(bytes: 8 << 20) }
        for buffer in taken { Scratch.give(buffer) }
        #expect(Scratch.retained <= Scratch.retainedLimit)
        taken = []
        let sum = Scratch.with(Int32.self, count: 300_000) { p in
            for i in 0..<300_000 { p[i] = Int32(i & 7) }
            return (0..<300_000).reduce(0) { $0 + Int(p[$1]) }
        }
        #expect(sum == 300_000 / 8 * 28)
    }
}
