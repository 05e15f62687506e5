import Foundation
import Testing
@testable import VitrineTensor

@Suite struct BLASTests {
    /// OpenBLAS does not run its SSE3 fallback on a CPU with AVX2 (Debian's 0.3.21 falls back to
    /// it on CPUs newer than itself, such as Emerald Rapids), unless the user chose the kernels;
    /// and a product still gives the right numbers.
    @Test func openBLASLeavesItsFallbackKernels() {
        let layer = Linear(weight: [1, 2, 3, 4, 5, 6], bias: [0.5, -1], inFeatures: 3, outFeatures: 2)
        if getenv("OPENBLAS_CORETYPE") == nil && InstructionSet.supported >= .avx2 {
            #expect(BLAS.coreName.lowercased() != "prescott", "OpenBLAS runs \(BLAS.coreName)")
        }
        if BLAS.kernelsRechosen {
            #expect(["skylakex", "haswell"].contains(BLAS.coreName.lowercased()), "OpenBLAS runs \(BLAS.coreName)")
        }
        let rows = 40  // past the few-rows path: a GEMM
        let input = (0..<rows * 3).map { Float($0 % 7) - 3 }
        var output = [Float](repeating: .nan, count: rows * 2)
        input.withUnsafeBufferPointer { x in output.withUnsafeMutableBufferPointer { layer(x.baseAddress!, rows: rows, into: $0.baseAddress!) } }
        for r in 0..<rows {
            let x = input[r * 3..<r * 3 + 3].map { $0 }
            #expect(output[r * 2] == x[0] + 2 * x[1] + 3 * x[2] + 0.5)
            #expect(output[r * 2 + 1] == 4 * x[0] + 5 * x[1] + 6 * x[2] - 1)
        }
    }
}
