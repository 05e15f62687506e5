import CVitrineKernels
import Foundation
import Testing
import VitrineTensor

/// Kernels against straightforward double-precision definitions. (The models' end-to-end parity
/// with transformers is tested in VitrineModelsTests; these pin down each kernel on its own.)
@Suite struct KernelTests {
    static func random(_ n: Int, seed: Int) -> [Float] {
        (0..<n).map { i in Float(sin(Double(i * 7919 + seed) * 0.37) * 2) }
    }

    @Test(arguments: [1, 7, 8, 64, 77])
    func layerNormMatchesDefinition(cols: Int) {
        let rows = 3
        let x = Self.random(rows * cols, seed: 1), w = Self.random(cols, seed: 2), b = Self.random(cols, seed: 3)
        var y = [Float](repeating: 0, count: rows * cols)
        Kernels.layerNorm(x, rows: rows, cols: cols, weight: w, bias: b, eps: 1e-5, into: &y)
        for r in 0..<rows {
            let row = x[(r * cols)..<((r + 1) * cols)].map(Double.init)
            let mean = row.reduce(0, +) / Double(cols)
            let variance = row.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(cols)
            for c in 0..<cols {
                let want = (row[c] - mean) / (variance + 1e-5).squareRoot() * Double(w[c]) + Double(b[c])
                #expect(abs(Double(y[r * cols + c]) - want) < 1e-4)
            }
        }
    }

    @Test func activationsMatchDefinitions() {
        let x = Self.random(101, seed: 4).map { $0 * 3 }
        var quick = x, exact = x, tanhApprox = x
        Kernels.quickGELU(&quick, count: x.count)
        Kernels.gelu(&exact, count: x.count)
        Kernels.geluTanh(&tanhApprox, count: x.count)
        for (i, v) in x.map(Double.init).enumerated() {
            #expect(abs(Double(quick[i]) - v / (1 + exp(-1.702 * v))) < 1e-5)
            #expect(abs(Double(exact[i]) - 0.5 * v * (1 + erf(v / 2.0.squareRoot()))) < 1e-5)
            #expect(abs(Double(tanhApprox[i]) - 0.5 * v * (1 + tanh((2 / Double.pi).squareRoot() * (v + 0.044715 * v * v * v)))) < 1e-5)
        }
    }

    /// The vectorized exact GELU (BERT's) over a dense grid, tails included: within a few float
    /// roundings of the double-precision definition everywhere, and vanishing far below zero.
    @Test func exactGELUIsAccurateEverywhere() {
        let x = (0..<24_001).map { Float($0 - 12_000) / 1_000 }  // −12 … 12 in steps of 0.001
        var y = x
        Kernels.gelu(&y, count: y.count)
        var worst = 0.0
        for (v, got) in zip(x.map(Double.init), y.map(Double.init)) {
            let want = 0.5 * v * (1 + erf(v / 2.0.squareRoot()))
            worst = max(worst, abs(got - want) / max(1, abs(v)))
        }
        #expect(worst < 5e-7, "largest error relative to max(1, |x|): \(worst)")
        var tail: [Float] = [-30, -100, 30, 100]
        Kernels.gelu(&tail, count: 4)
        #expect(abs(tail[0]) < 1e-30 && abs(tail[1]) < 1e-30 && tail[2] == 30 && tail[3] == 100)
    }

    @Test func softmaxIsStableAndSumsToOne() {
        var x: [Float] = [1000, 1001, 999, -1000]
        Kernels.softmax(&x, count: 4)
        #expect(abs(x.reduce(0, +) - 1) < 1e-6)
        #expect(x[1] > x[0] && x[0] > x[2] && x[3] == 0)
    }

    /// Causal and bidirectional attention over packed sequences against a naive loop: two short
    /// ones on one thread, and a batch large enough to split across threads (with an empty
    /// sequence among them). At int8, where the CPU has the bf16 kernel, heads of 32 go through it:
    /// the naive loop then reads q, k and v rounded to bf16, and the weights' own rounding is
    /// allowed (2⁻⁹ of the largest value); the parts' scratch must not overlap.
    @Test(arguments: [(true, false, Precision.fp32), (false, false, .fp32), (true, true, .fp32), (false, true, .fp32),
                      (true, true, .int8), (false, true, .int8)])
    func attentionMatchesNaiveComputation(causal: Bool, large: Bool, precision: Precision) {
        let (width, heads) = large ? (64, 2) : (12, 3)
        let d = width / heads
        let lengths = large ? [40, 0, 33, 64, 1, 57] : [5, 3]
        var sequences: [(start: Int, length: Int)] = []
        for length in lengths { sequences.append((sequences.last.map { $0.start + $0.length } ?? 0, length)) }
        let tokens = lengths.reduce(0, +)
        #expect(!large || lengths.reduce(0) { $0 + $1 * $1 } * width >= MultiHeadAttention.parallelWork)
        let qkv = Self.random(tokens * 3 * width, seed: 5)
        var out = [Float](repeating: .nan, count: tokens * width)
        let attention = MultiHeadAttention(width: width, heads: heads, causal: causal, precision: precision)
        let bf16 = attention.roundsToBF16 && vt_kernels_active().pointee.attention_bf16 != nil && d % 32 == 0
        #expect(attention.roundsToBF16 == (precision == .int8))
        var scratch = [Float](repeating: 0, count: attention.scratchCount(maxLength: lengths.max()!))
        qkv.withUnsafeBufferPointer { q in
            out.withUnsafeMutableBufferPointer { o in
                scratch.withUnsafeMutableBufferPointer { s in
                    attention(qkv: q.baseAddress!, sequences: sequences, into: o.baseAddress!, scratch: s.baseAddress!)
                }
            }
        }
        // Which sequences the bf16 kernel takes (the others go through the f32 one).
        func rounded(_ length: Int) -> Bool { bf16 && length >= Int(VT_ATTENTION_BF16_MIN_LENGTH) }
        func at(_ t: Int, _ part: Int, _ h: Int, _ j: Int, _ length: Int) -> Double {
            let value = qkv[t * 3 * width + part * width + h * d + j]
            return Double(rounded(length) ? HalfPrecision.float(fromBFloat16Bits: HalfPrecision.bfloat16Bits(value)) : value)
        }
        let largest = qkv.map { abs(Double($0)) }.max()!
        for (start, length) in sequences {
            for h in 0..<heads {
                for i in 0..<length {
                    let visible = causal ? i + 1 : length
                    let scores = (0..<visible).map { k in
                        (0..<d).reduce(0.0) { $0 + at(start + i, 0, h, $1, length) * at(start + k, 1, h, $1, length) } / Double(d).squareRoot()
                    }
                    let m = scores.max()!
                    let e = scores.map { exp($0 - m) }
                    let sum = e.reduce(0, +)
                    for j in 0..<d {
                        let want = (0..<visible).reduce(0.0) { $0 + e[$1] / sum * at(start + $1, 2, h, j, length) }
                        #expect(abs(Double(out[(start + i) * width + h * d + j]) - want) < (rounded(length) ? 1.1 * largest / 512 + 1e-5 : 1e-5))
                    }
                }
            }
        }
    }

    @Test func linearAddsBiasToProduct() {
        let layer = Linear(weight: [1, 2, 3, 4, 5, 6], bias: [10, 20], inFeatures: 3, outFeatures: 2)
        let x: [Float] = [1, 0, -1, 2, 2, 2]
        var y = [Float](repeating: 0, count: 4)
        x.withUnsafeBufferPointer { xp in y.withUnsafeMutableBufferPointer { layer(xp.baseAddress!, rows: 2, into: $0.baseAddress!) } }
        let want: [Float] = [8, 18, 22, 50]  // [1·1 − 3 + 10, 4 − 6 + 20, 2·(1+2+3) + 10, 2·(4+5+6) + 20]
        #expect(y == want)
    }

    /// Both paths of a linear layer, the few-rows kernel (≤ 16 rows) and GEMM, against a
    /// double-precision product, at sizes with and without a multiple-of-8 remainder.
    @Test(arguments: [(1, 64, 33), (5, 100, 7), (16, 512, 130), (17, 96, 64), (40, 24, 10), (33, 40, 300)],
          [Precision.fp32, .bf16])
    func linearMatchesDefinition(shape: (rows: Int, inFeatures: Int, outFeatures: Int), precision: Precision) {
        let (rows, inFeatures, outFeatures) = shape
        let original = Self.random(inFeatures * outFeatures, seed: 6).map { $0 / 8 }
        // A bf16 layer computes exactly with its rounded weights.
        let w = precision == .fp32 ? original : original.map { HalfPrecision.float(fromBFloat16Bits: HalfPrecision.bfloat16Bits($0)) }
        let b = Self.random(outFeatures, seed: 7)
        let x = Self.random(rows * inFeatures, seed: 8)
        let layer = Linear(weight: original, bias: b, inFeatures: inFeatures, outFeatures: outFeatures, precision: precision)
        #expect(layer.precision == precision)
        var y = [Float](repeating: .nan, count: rows * outFeatures)
        x.withUnsafeBufferPointer { xp in y.withUnsafeMutableBufferPointer { layer(xp.baseAddress!, rows: rows, into: $0.baseAddress!) } }
        var worst = 0.0
        for r in 0..<rows {
            for o in 0..<outFeatures {
                var want = Double(b[o])
                for i in 0..<inFeatures { want += Double(x[r * inFeatures + i]) * Double(w[o * inFeatures + i]) }
                worst = max(worst, abs(Double(y[r * outFeatures + o]) - want))
            }
        }
        #expect(worst < 1e-4, "max difference \(worst)")
    }

    @Test func halfPrecisionConversions() {
        #expect(HalfPrecision.float(fromFloat16Bits: 0x3C00) == 1)
        #expect(HalfPrecision.float(fromFloat16Bits: 0xC000) == -2)
        #expect(HalfPrecision.float(fromFloat16Bits: 0x0001) == Float(Float16.leastNonzeroMagnitude))
        #expect(HalfPrecision.float(fromBFloat16Bits: 0x3F80) == 1)
        #expect(HalfPrecision.float(fromBFloat16Bits: 0x4049) == 3.140625)
        #expect(HalfPrecision.float16Bits(1.0009765625) == 0x3C01)
        #expect(HalfPrecision.bfloat16Bits(1) == 0x3F80)
        #expect(HalfPrecision.bfloat16Bits(Float(bitPattern: 0x3F80_8000)) == 0x3F80)  // tie to even
        #expect(HalfPrecision.bfloat16Bits(Float(bitPattern: 0x3F81_8000)) == 0x3F82)  // tie to even
        #expect(HalfPrecision.bfloat16Bits(Float(bitPattern: 0x3F80_8001)) == 0x3F81)
        let source: [UInt16] = (0..<19).map { 0x3F80 + UInt16($0) }
        var widened = [Float](repeating: 0, count: 19)
        source.withUnsafeBufferPointer { s in widened.withUnsafeMutableBufferPointer { HalfPrecision.widen(bfloat16: s.baseAddress!, into: $0.baseAddress!, count: 19) } }
        #expect(widened == source.map(HalfPrecision.float(fromBFloat16Bits:)))
    }
}
