import CVitrineKernels
import Foundation
import Testing
@testable import VitrineTensor

/// The int8 linear layers: the quantizer on its own, then both paths (the few-rows kernel and
/// oneDNN's GEMM) against a double-precision product, within the error quantization allows.
@Suite struct Int8Tests {
    /// Quantizes one row through the C kernel.
    static func quantize(_ row: [Float], limit: Int32 = 127) -> (values: [Int8], scale: Float) {
        var q = [Int8](repeating: 99, count: row.count)
        var scale: Float = -1
        row.withUnsafeBufferPointer { x in
            q.withUnsafeMutableBufferPointer { vt_quantize_rows_s8(1, Int32(row.count), x.baseAddress!, row.count, $0.baseAddress!, row.count, &scale, limit) }
        }
        return (q, scale)
    }

    /// Uniform values in [-1, 1) from a 64-bit LCG.
    static func uniform(_ n: Int, seed: UInt64) -> [Float] {
        var state = seed &* 0x9E37_79B9_7F4A_7C15
        return (0..<n).map { _ in
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Float(state >> 40) / Float(1 << 23) - 1
        }
    }

    /// 37 values: one 32-wide vector block and a scalar tail, so both code paths are checked.
    @Test(arguments: [Int32(127), 63])
    func quantizerRoundsToNearestEvenAndClamps(limit: Int32) {
        let m = Float(limit)
        // With max |x| = limit the scale is 1, so every value is its own rounding case.
        var row: [Float] = [m, -m, 0.5, 1.5, 2.5, -0.5, -1.5, 3.49, -3.51, 0, 7, -7.5]
        row += row.map { -$0 / 2 } + [0.25, 1.75, -2.5, 4.5, 5.5, 6.5, 126.5, -0, 1, 2, 3, 4, 5].map { min($0, m) }
        #expect(row.count == 37)
        // The tail (indices 32…36) repeats the rounding cases.
        row[32] = 0.5; row[33] = 1.5; row[34] = -2.5; row[35] = 3.5; row[36] = -m
        let (q, scale) = Self.quantize(row, limit: limit)
        #expect(scale == 1)
        #expect(q == row.map { Int8($0.rounded(.toNearestOrEven)) })
    }

    @Test func quantizerEdgeCases() {
        // An all-zero row, and one too small to scale (127 / 1e-40 overflows): scale 0, zero bytes.
        for row in [[Float](repeating: 0, count: 40), [Float](repeating: 1e-40, count: 40)] {
            let (q, scale) = Self.quantize(row)
            #expect(scale == 0)
            #expect(q == [Int8](repeating: 0, count: 40))
        }
        // Huge values: the largest magnitude maps to ±127 and nothing leaves [-127, 127].
        var huge = [Float](repeating: 0, count: 40)
        for i in 0..<40 { huge[i] = Float(i % 2 == 0 ? 1 : -1) * Float(i) / 39 * 3e38 }
        let (q, scale) = Self.quantize(huge)
        #expect(abs(scale - 3e38 / 127) <= 3e38 / 127 * 1e-6)
        #expect(q[39] == -127 && q[38] == Int8((38.0 / 39 * 127).rounded()))
        #expect(q.allSatisfy { $0 >= -127 && $0 <= 127 })
        // A 7-bit limit clamps the same way.
        let (q7, _) = Self.quantize(huge, limit: 63)
        #expect(q7[39] == -63 && q7.allSatisfy { $0 >= -63 && $0 <= 63 })
        // Many rows at once: each gets its own scale.
        let rows: [Float] = [2, -4, 0, 0, 0, 0, 1, 0.5]
        var qs = [Int8](repeating: 0, count: 8), scales = [Float](repeating: -1, count: 4)
        rows.withUnsafeBufferPointer { x in
            qs.withUnsafeMutableBufferPointer { vt_quantize_rows_s8(4, 2, x.baseAddress!, 2, $0.baseAddress!, 2, &scales, 127) }
        }
        #expect(scales == [4 / 127, 0, 0, 1 / Float(127)])
        #expect(qs == [64, -127, 0, 0, 0, 0, 127, 64])  // 63.5 → 64, to even
    }

    /// A feed-forward block through the fused AMX step gives the numbers of its three steps (first
    /// layer, GELU, second layer) bit for bit: row counts split across threads (40, 130, 300 at 2
    /// threads: parts of 32 rows and more, blocks off the 32-row grid), widths off the tiles.
    /// Where the fused step does not run (no AMX), it says so and leaves the output alone.
    @Test(arguments: [40, 130, 300])
    func geluFeedForwardIsItsThreeSteps(rows: Int) {
        let (width, inner) = (72, 200)
        let first = Linear(weight: Self.uniform(width * inner, seed: 11).map { $0 / 4 }, bias: KernelTests.random(inner, seed: 12),
                           inFeatures: width, outFeatures: inner, precision: .int8)
        let second = Linear(weight: Self.uniform(inner * width, seed: 13).map { $0 / 4 }, bias: KernelTests.random(width, seed: 14),
                            inFeatures: inner, outFeatures: width, precision: .int8)
        let x = Self.uniform(rows * width, seed: UInt64(rows)).map { $0 * 3 }
        var hidden = [Float](repeating: .nan, count: rows * inner), want = [Float](repeating: .nan, count: rows * width)
        x.withUnsafeBufferPointer { xp in hidden.withUnsafeMutableBufferPointer { first(xp.baseAddress!, rows: rows, into: $0.baseAddress!) } }
        #expect(hidden.filter { abs($0) < 5.5 }.count > hidden.count / 4, "GELU's rational part is exercised")
        Kernels.gelu(&hidden, count: hidden.count)
        hidden.withUnsafeBufferPointer { h in want.withUnsafeMutableBufferPointer { second(h.baseAddress!, rows: rows, into: $0.baseAddress!) } }
        let threads = BLAS.threads
        BLAS.threads = 2
        defer { BLAS.threads = threads }
        var got = [Float](repeating: .nan, count: rows * width)
        let fused = x.withUnsafeBufferPointer { xp in
            got.withUnsafeMutableBufferPointer { Linear.geluFeedForward(first, second, xp.baseAddress!, rows: rows, into: $0.baseAddress!) }
        }
        #expect(fused == (ActiveKernels.table.isa == VT_ISA_AMX))
        if fused {
            #expect(got == want, "\(zip(got, want).filter { $0 != $1 }.count) of \(got.count) outputs differ")
        } else {
            #expect(got.allSatisfy { $0.isNaN })
        }
    }

    /// Both int8 paths against a double-precision product with the original weights. The
    /// difference must stay within what rounding x and w to their grids can cause,
    /// Σ |x|·s_w/2 + |w|·s_x/2 + s_x·s_w/4, plus float slack, and must actually show.
    @Test(arguments: [(1, 64, 33), (5, 100, 7), (16, 512, 130), (17, 96, 64), (40, 24, 10), (33, 40, 300), (64, 768, 96)])
    func int8LinearStaysWithinQuantizationError(shape: (rows: Int, inFeatures: Int, outFeatures: Int)) {
        let (rows, inFeatures, outFeatures) = shape
        // Uniform values: many large bytes side by side, the case an int16 pair sum overflows.
        let w = Self.uniform(inFeatures * outFeatures, seed: 6).map { $0 / 8 }
        let b = KernelTests.random(outFeatures, seed: 7)
        var x = Self.uniform(rows * inFeatures, seed: 8).map { $0 * 2 }
        if rows > 2 { for i in 0..<inFeatures { x[2 * inFeatures + i] = 0 } }  // an all-zero row gives the bias
        let layer = Linear(weight: w, bias: b, inFeatures: inFeatures, outFeatures: outFeatures, precision: .int8)
        #expect(layer.precision == .int8)
        var y = [Float](repeating: .nan, count: rows * outFeatures)
        x.withUnsafeBufferPointer { xp in y.withUnsafeMutableBufferPointer { layer(xp.baseAddress!, rows: rows, into: $0.baseAddress!) } }
        // The same layer through the float fallback (what runs if oneDNN fails).
        var fallback = [Float](repeating: .nan, count: rows * outFeatures)
        x.withUnsafeBufferPointer { xp in fallback.withUnsafeMutableBufferPointer { layer.floatProduct(xp.baseAddress!, rows: rows, into: $0.baseAddress!) } }
        // Exactly: the int8 product is Σ q_x · q_w in int32, times both scales, plus the bias.
        // This catches wrong sums (oneDNN's int16 saturation without VNNI) that the bound below
        // is too loose to see.
        let qw = (0..<outFeatures).map { Self.quantize(Array(w[($0 * inFeatures)..<(($0 + 1) * inFeatures)]), limit: Linear.int8WeightLimit) }
        let qx = (0..<rows).map { Self.quantize(Array(x[($0 * inFeatures)..<(($0 + 1) * inFeatures)])) }
        var wrongSums = 0
        for r in 0..<rows {
            for o in 0..<outFeatures {
                var sum = 0
                for i in 0..<inFeatures { sum += Int(qx[r].values[i]) * Int(qw[o].values[i]) }
                let want = Double(sum) * Double(qx[r].scale * qw[o].scale) + Double(b[o])
                if abs(Double(y[r * outFeatures + o]) - want) > 1e-5 * (abs(want) + 1) { wrongSums += 1 }
            }
        }
        #expect(wrongSums == 0, "\(wrongSums) of \(rows * outFeatures) outputs differ from the exact int32 product")
        let limit = Float(Linear.int8WeightLimit)
        var worstRatio = 0.0, worst = 0.0, worstFallback = 0.0
        for r in 0..<rows {
            let row = x[(r * inFeatures)..<((r + 1) * inFeatures)]
            let sx = Double(row.map(abs).max()! / 127)
            for o in 0..<outFeatures {
                let wr = w[(o * inFeatures)..<((o + 1) * inFeatures)]
                let sw = Double(wr.map(abs).max()! / limit)
                var want = Double(b[o]), bound = 0.0
                for i in 0..<inFeatures {
                    let xi = Double(x[r * inFeatures + i]), wi = Double(w[o * inFeatures + i])
                    want += xi * wi
                    bound += abs(xi) * sw / 2 + abs(wi) * sx / 2 + sx * sw / 4
                }
                let difference = abs(Double(y[r * outFeatures + o]) - want)
                worst = max(worst, difference)
                worstRatio = max(worstRatio, difference / (bound * 1.001 + 1e-5))
                worstFallback = max(worstFallback, abs(Double(fallback[r * outFeatures + o]) - want) / (bound + 1e-5))
                if r == 2 && rows > 2 { #expect(y[r * outFeatures + o] == b[o]) }
            }
        }
        #expect(worstRatio <= 1, "error beyond the quantization bound: ratio \(worstRatio)")
        #expect(worstFallback <= 1, "fallback error beyond the weight-quantization bound: ratio \(worstFallback)")
        #expect(worst > 1e-6, "int8 rounding must show; if not, nothing was quantized")
    }
}
