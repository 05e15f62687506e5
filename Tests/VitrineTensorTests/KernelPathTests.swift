import CVitrineKernels
import Foundation
import Testing
@testable import VitrineTensor

/// Every kernel of every instruction set this CPU runs (portable C, AVX2, AVX-512), each against a
/// scalar reference in double precision, on shapes that are not multiples of any vector width
/// (M = 1, K and N odd) and on column ranges that start and end off the kernels' blocks. The
/// production code calls the active level only; this calls each level's table directly.
@Suite struct KernelPathTests {
    /// (rows, k, n): M = 1 and small odd sizes, a text query's shape, and tails past 8, 16 and 32.
    static let shapes = [(1, 1, 1), (1, 7, 3), (1, 33, 9), (2, 31, 4), (3, 100, 13), (4, 64, 8), (5, 300, 6), (7, 513, 17), (16, 96, 12), (9, 17, 5)]

    static func tables() throws -> [(InstructionSet, vt_kernels)] {
        let levels = InstructionSet.runnable
        #expect(levels.first == .portable && levels.last == InstructionSet.supported)
        return try levels.map { level in (level, try #require(level.kernels).pointee) }
    }

    /// Column ranges for `n` columns: the whole, and ranges that start or end inside a block.
    static func ranges(_ n: Int) -> [(Int, Int)] {
        Array(Set([(0, n), (min(1, n - 1), n), (0, max(1, n - 1)), (min(2, n - 1), n)].map { [$0.0, $0.1] })).map { ($0[0], $0[1]) }
    }

    /// Outputs of an s8 product that differ from the exact integer sum put through the kernels'
    /// one float step (`bias + sum · (xs · ws)`), or that were written outside `columns`.
    static func int8Mismatches(
        _ y: [Float], x: [Int8], w: [Int8], xs: [Float], ws: [Float], bias: [Float]?,
        shape: (rows: Int, k: Int, n: Int), columns: Range<Int>
    ) -> Int {
        let (rows, k, n) = shape
        var wrong = 0
        for r in 0..<rows {
            for o in 0..<n {
                guard columns.contains(o) else {
                    if !y[r * n + o].isNaN { wrong += 1 }
                    continue
                }
                var exact = 0
                for j in 0..<k { exact += Int(x[r * k + j]) * Int(w[o * k + j]) }
                let want = (bias?[o] ?? 0).addingProduct(Float(exact), xs[r] * ws[o])
                if y[r * n + o].bitPattern != want.bitPattern { wrong += 1 }
            }
        }
        return wrong
    }

    /// Input rows [rows][k] and weights [n][k] for the exact int8 products: random bytes in
    /// [-127, 127] from `state` (input first, then weights), or the extremes (±127 everywhere).
    static func int8Operands(rows: Int, k: Int, n: Int, extreme: Bool, state: inout UInt64) -> (x: [Int8], w: [Int8]) {
        func byte() -> Int8 {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Int8(truncatingIfNeeded: Int(state >> 56) % 255 - 127)
        }
        let x: [Int8] = (0..<rows * k).map { i in extreme ? (i % 3 == 0 ? -127 : 127) : byte() }
        let w: [Int8] = (0..<n * k).map { i in extreme ? (i % 5 == 0 ? 127 : -127) : byte() }
        return (x, w)
    }

    @Test func levelsFollowTheCPU() {
        #expect(InstructionSet.active <= InstructionSet.supported)
        #expect(InstructionSet.portable.kernels != nil)
        for level in InstructionSet.allCases where level > InstructionSet.supported {
            #expect(level.kernels == nil, "\(level) is above this CPU's \(InstructionSet.supported)")
        }
        print("kernel paths on this CPU: \(InstructionSet.runnable.map(\.description).joined(separator: ", ")); active \(InstructionSet.active)")
    }

    @Test func floatFewRowsMatchDoublePrecision() throws {
        for (level, table) in try Self.tables() {
            for (rows, k, n) in Self.shapes {
                let x = Int8Tests.uniform(rows * k, seed: UInt64(rows * 1000 + k))
                let w = Int8Tests.uniform(n * k, seed: UInt64(n * 7 + k))
                let bf = w.map(HalfPrecision.bfloat16Bits)
                let bias = Int8Tests.uniform(n, seed: 3)
                for (begin, end) in Self.ranges(n) {
                    for (name, widened) in [("f32", w), ("bf16", bf.map(HalfPrecision.float(fromBFloat16Bits:)))] {
                        var y = [Float](repeating: .nan, count: rows * n)
                        if name == "f32" {
                            table.few_rows_f32!(Int32(rows), Int32(k), Int32(begin), Int32(end), x, w, bias, &y, Int32(n))
                        } else {
                            table.few_rows_bf16!(Int32(rows), Int32(k), Int32(begin), Int32(end), x, bf, bias, &y, Int32(n))
                        }
                        var worst = 0.0
                        for r in 0..<rows {
                            for o in 0..<n {
                                guard (begin..<end).contains(o) else {
                                    #expect(y[r * n + o].isNaN, "\(level) \(name): column \(o) outside \(begin)..<\(end) was written")
                                    continue
                                }
                                var want = Double(bias[o])
                                for j in 0..<k { want += Double(x[r * k + j]) * Double(widened[o * k + j]) }
                                worst = max(worst, abs(Double(y[r * n + o]) - want))
                            }
                        }
                        // Float sums of k products of magnitude ≤ 1: a few ulps of √k-sized partial sums.
                        #expect(worst <= 2e-6 * Double(k).squareRoot() + 1e-6, "\(level) \(name) rows \(rows) k \(k) n \(n): max |difference| \(worst)")
                    }
                }
            }
        }
    }

    /// The int8 product is exact on every level: the same bits as the integer sum put through the
    /// kernels' one float step, for random bytes and for the extremes (±127 everywhere).
    @Test func int8FewRowsAreExactOnEveryPath() throws {
        var state: UInt64 = 12345
        for (level, table) in try Self.tables() {
            for (rows, k, n) in Self.shapes {
                for extreme in [false, true] {
                    let (x, w) = Self.int8Operands(rows: rows, k: k, n: n, extreme: extreme, state: &state)
                    let sums = (0..<n).map { o in w[o * k..<(o + 1) * k].reduce(Int32(0)) { $0 + Int32($1) } }
                    let xs = (0..<rows).map { Float($0 + 1) * 0.013 }
                    let ws = (0..<n).map { Float($0 + 2) * 0.007 }
                    let bias = (0..<n).map { Float($0) * 0.5 - 1 }
                    for (begin, end) in Self.ranges(n) {
                        var y = [Float](repeating: .nan, count: rows * n)
                        table.few_rows_s8!(Int32(rows), Int32(k), Int32(begin), Int32(end), x, xs, w, sums, ws, bias, &y, Int32(n))
                        let wrong = Self.int8Mismatches(y, x: x, w: w, xs: xs, ws: ws, bias: bias, shape: (rows, k, n), columns: begin..<end)
                        #expect(wrong == 0, "\(level) rows \(rows) k \(k) columns \(begin)..<\(end) extreme \(extreme): \(wrong) outputs differ")
                    }
                }
            }
        }
    }

    /// The blocked int8 product for batches (where a level has one) gives the same bits as the
    /// few-rows one: exact sums through the same float step, on row counts off its 6-row blocks,
    /// columns off its 16-column panels, odd k (the pad of the last pair), extremes, and no bias.
    @Test func int8BatchProductIsExact() throws {
        var state: UInt64 = 777
        var checked: [InstructionSet] = []
        for (level, table) in try Self.tables() {
            guard let gemm = table.gemm_s8 else { continue }
            checked.append(level)
            for (rows, k, n) in Self.shapes + [(13, 65, 37), (6, 2, 16), (25, 300, 33), (17, 1, 48)] {
                for extreme in [false, true] {
                    let (x, w) = Self.int8Operands(rows: rows, k: k, n: n, extreme: extreme, state: &state)
                    let xs = (0..<rows).map { Float($0 + 1) * 0.013 }
                    let ws = (0..<n).map { Float($0 + 2) * 0.007 }
                    let bias: [Float]? = extreme ? nil : (0..<n).map { Float($0) * 0.5 - 1 }
                    let ldx = k + (k & 1) + 3  // a row stride wider than the row
                    var wide = [Int16](repeating: 999, count: rows * ldx)
                    vt_widen_s8_pairs(Int32(rows), Int32(k), x, k, &wide, ldx)
                    var panel = [Int16](repeating: 0, count: vt_gemm_s8_panel(Int32(k)))
                    for (begin, end) in Self.ranges(n) {
                        var y = [Float](repeating: .nan, count: rows * n)
                        if let bias {
                            gemm(Int32(rows), Int32(k), Int32(begin), Int32(end), wide, ldx, xs, w, ws, bias, &y, Int32(n), &panel)
                        } else {
                            gemm(Int32(rows), Int32(k), Int32(begin), Int32(end), wide, ldx, xs, w, ws, nil, &y, Int32(n), &panel)
                        }
                        let wrong = Self.int8Mismatches(y, x: x, w: w, xs: xs, ws: ws, bias: bias, shape: (rows, k, n), columns: begin..<end)
                        #expect(wrong == 0, "\(level) rows \(rows) k \(k) columns \(begin)..<\(end) extreme \(extreme): \(wrong) outputs differ")
                    }
                }
            }
        }
        // Plain AVX2 has one; the VNNI level leaves batches to oneDNN.
        #expect(checked.contains(.avx2) == InstructionSet.runnable.contains(.avx2))
    }

    /// The products over packed weights (VNNI's and AMX's, where the CPU has them) give the same
    /// bits as the few-rows one: on row counts off their 8-row and 32-row blocks, under AMX's 16
    /// and past an L2 chunk of rows, k off the groups of four and off AMX's 64-byte tiles, columns
    /// off the 16-column panels, ranges that start on a panel and end anywhere, extremes, and no
    /// bias; nothing outside the range is written.
    @Test func int8PackedProductIsExact() throws {
        var state: UInt64 = 4242
        var checked: [InstructionSet] = []
        for (level, table) in try Self.tables() {
            guard let gemm = table.gemm_s8_packed else { continue }
            checked.append(level)
            let shapes = Self.shapes + [(13, 65, 37), (8, 2, 16), (25, 300, 33), (17, 1, 48), (40, 64, 70), (9, 4, 32), (70, 4001, 19),
                                       (16, 64, 16), (31, 128, 50), (33, 192, 17), (64, 320, 96), (100, 84, 40), (1100, 260, 35)]
            for (rows, k, n) in shapes {
                for extreme in [false, true] {
                    let (x, w) = Self.int8Operands(rows: rows, k: k, n: n, extreme: extreme, state: &state)
                    let sums = (0..<n).map { o in w[o * k..<(o + 1) * k].reduce(Int32(0)) { $0 + Int32($1) } }
                    let xs = (0..<rows).map { Float($0 + 1) * 0.013 }
                    let ws = (0..<n).map { Float($0 + 2) * 0.007 }
                    let bias: [Float]? = extreme ? nil : (0..<n).map { Float($0) * 0.5 - 1 }
                    var packed = [Int8](repeating: 99, count: vt_packed_s8_size(Int32(n), Int32(k)))
                    vt_pack_s8_vnni(Int32(n), Int32(k), w, &packed)
                    let ldx = (k + 3) / 4 * 4 + 8  // a row stride wider than the padded row
                    var flipped = [UInt8](repeating: 77, count: rows * ldx)
                    vt_flip_s8_rows(Int32(rows), Int32(k), x, k, &flipped, ldx)
                    let ranges = Set([0, 16, 32].filter { $0 < n }.flatMap { begin in [n, max(begin + 1, n - 1), min(n, begin + 16), min(n, begin + 1)].map { [begin, $0] } })
                    for range in ranges {
                        let (begin, end) = (range[0], range[1])
                        var y = [Float](repeating: .nan, count: rows * n)
                        if let bias {
                            gemm(Int32(rows), Int32(k), Int32(begin), Int32(end), flipped, ldx, xs, packed, sums, ws, bias, &y, Int32(n))
                        } else {
                            gemm(Int32(rows), Int32(k), Int32(begin), Int32(end), flipped, ldx, xs, packed, sums, ws, nil, &y, Int32(n))
                        }
                        let wrong = Self.int8Mismatches(y, x: x, w: w, xs: xs, ws: ws, bias: bias, shape: (rows, k, n), columns: begin..<end)
                        #expect(wrong == 0, "\(level) rows \(rows) k \(k) columns \(begin)..<\(end) extreme \(extreme): \(wrong) outputs differ")
                    }
                }
            }
        }
        // Only the VNNI and AMX levels have one.
        #expect(checked == InstructionSet.runnable.filter { $0 >= .avx512 })
    }

    /// The fused feed-forward step on AMX gives the bytes and scales of the three steps it fuses
    /// (the product over all columns, GELU, quantize_rows_u8): row counts off the 32-row blocks
    /// (5, through the VNNI kernel; 16, 31, 33, 70, 100), k off the tiles, n off the 16-column tiles; with and without bias;
    /// nothing written past a row's padded bytes.
    @Test func fusedFeedForwardStepIsTheThreeSteps() throws {
        guard InstructionSet.runnable.contains(.amx), let amx = vt_kernels_for(VT_ISA_AMX)?.pointee else { return }
        var state: UInt64 = 77
        for (rows, k, n) in [(5, 64, 24), (16, 64, 32), (31, 84, 40), (33, 384, 1536), (70, 260, 50), (100, 128, 17)] {
            for withBias in [true, false] {
                let (x, w) = Self.int8Operands(rows: rows, k: k, n: n, extreme: false, state: &state)
                let sums = (0..<n).map { o in w[o * k..<(o + 1) * k].reduce(Int32(0)) { $0 + Int32($1) } }
                // Scales that put most outputs where GELU's rational part runs (|y| < 5.5).
                let xs = (0..<rows).map { Float($0 % 5 + 1) * 2e-4 }
                let ws = (0..<n).map { Float($0 % 7 + 1) * 3e-4 }
                let bias: [Float]? = withBias ? (0..<n).map { Float($0 % 9) * 0.25 - 1 } : nil
                var packed = [Int8](repeating: 0, count: vt_packed_s8_size(Int32(n), Int32(k)))
                vt_pack_s8_vnni(Int32(n), Int32(k), w, &packed)
                let ldx = (k + 3) / 4 * 4, ldu = (n + 3) / 4 * 4 + 4
                var flipped = [UInt8](repeating: 0, count: rows * ldx)
                vt_flip_s8_rows(Int32(rows), Int32(k), x, k, &flipped, ldx)
                // The three steps.
                var y = [Float](repeating: .nan, count: rows * n)
                amx.gemm_s8_packed!(Int32(rows), Int32(k), 0, Int32(n), flipped, ldx, xs, packed, sums, ws, bias, &y, Int32(n))
                #expect(y.filter { abs($0) < 5.5 }.count > y.count / 4, "rows \(rows) k \(k): GELU's rational part is exercised")
                amx.gelu_erf!(&y, rows * n)
                var want = [UInt8](repeating: 7, count: rows * ldu), wantScales = [Float](repeating: -1, count: rows)
                amx.quantize_rows_u8!(Int32(rows), Int32(n), y, n, &want, ldu, &wantScales, 127)
                // Fused.
                var block = [Float](repeating: .nan, count: 32 * n)
                var got = [UInt8](repeating: 7, count: rows * ldu), scales = [Float](repeating: -1, count: rows)
                vt_gemm_s8_amx_gelu_u8(Int32(rows), Int32(k), Int32(n), flipped, ldx, xs, packed, sums, ws, bias, &block, &got, ldu, &scales)
                #expect(scales == wantScales, "rows \(rows) k \(k) n \(n) bias \(withBias): scales")
                #expect(got == want, "rows \(rows) k \(k) n \(n) bias \(withBias): \(zip(got, want).filter { $0 != $1 }.count) bytes differ")
                #expect(Set(wantScales).count > rows / 2, "the rows have scales of their own")
            }
        }
    }

    /// The packed kernels' one-pass input step gives the bytes of quantizing and then flipping:
    /// the same scales, q + 128, zeros up to a group of four, nothing written past that (a zero
    /// row included; lengths off the 16 lanes and off the groups of four).
    @Test func quantizingToUnsignedIsQuantizingThenFlipping() throws {
        var checked: [InstructionSet] = []
        for (level, table) in try Self.tables() {
            guard let fused = table.quantize_rows_u8 else { continue }
            checked.append(level)
            for (rows, k) in [(1, 1), (2, 5), (3, 31), (3, 33), (4, 97), (2, 384)] {
                let padded = (k + 3) / 4 * 4, ldu = padded + 8
                var x = Int8Tests.uniform(rows * k, seed: UInt64(k) + 7)
                for j in 0..<k { x[j] *= 1000 }  // a row of large values
                if rows > 1 { for j in 0..<k { x[k + j] = 0 } }  // a zero row
                for qmax in [Int32(127), 63] {
                    var q = [Int8](repeating: 99, count: rows * k)
                    var want = [UInt8](repeating: 7, count: rows * ldu)
                    var wantScales = [Float](repeating: -1, count: rows)
                    table.quantize_rows_s8!(Int32(rows), Int32(k), x, k, &q, k, &wantScales, qmax)
                    vt_flip_s8_rows(Int32(rows), Int32(k), q, k, &want, ldu)
                    var got = [UInt8](repeating: 7, count: rows * ldu)
                    var scales = [Float](repeating: -1, count: rows)
                    fused(Int32(rows), Int32(k), x, k, &got, ldu, &scales, qmax)
                    #expect(scales == wantScales, "\(level) rows \(rows) k \(k) qmax \(qmax): scales")
                    #expect(got == want, "\(level) rows \(rows) k \(k) qmax \(qmax): bytes")
                }
            }
        }
        #expect(checked == InstructionSet.runnable.filter { $0 >= .avx512 })
    }

    /// Packing puts w[n][k] where the VNNI kernel reads it and zeros in the pads, and flipping
    /// adds 128 and zeros the pad to a group of four.
    @Test func packingAndFlippingLayouts() {
        let (n, k) = (19, 10)
        let w = (0..<n * k).map { Int8(truncatingIfNeeded: $0 * 7 - 50) }
        var packed = [Int8](repeating: 99, count: vt_packed_s8_size(Int32(n), Int32(k)))
        #expect(packed.count == 2 * 3 * 64)  // two panels of 16 columns, three groups of four k
        vt_pack_s8_vnni(Int32(n), Int32(k), w, &packed)
        for panel in 0..<2 {
            for group in 0..<3 {
                for c in 0..<16 {
                    for b in 0..<4 {
                        let (column, j) = (16 * panel + c, 4 * group + b)
                        let want: Int8 = column < n && j < k ? w[column * k + j] : 0
                        #expect(packed[panel * 192 + group * 64 + 4 * c + b] == want, "column \(column) k \(j)")
                    }
                }
            }
        }
        let q: [Int8] = [-128, -1, 0, 1, 127, 5, 6]
        var u = [UInt8](repeating: 9, count: 2 * 8)
        vt_flip_s8_rows(1, 5, q, 7, &u, 8)
        #expect(Array(u[0..<8]) == [0, 127, 128, 129, 255, 0, 0, 0])
        #expect(Array(u[8...]) == [UInt8](repeating: 9, count: 8))
    }

    /// softmax(q kᵀ · scale) v in double precision for one head whose row i holds q, k and v at
    /// i · stride, + d and + 2d (what attention_f32 and attention_bf16 read): [row][column].
    static func attention(_ rows: [Float], length: Int, d: Int, stride: Int, scale: Float, causal: Bool) -> [[Double]] {
        (0..<length).map { i in
            let visible = causal ? i + 1 : length
            let logits = (0..<visible).map { j in
                (0..<d).reduce(0.0) { $0 + Double(rows[i * stride + $1]) * Double(rows[j * stride + d + $1]) } * Double(scale)
            }
            let top = logits.max()!
            let e = logits.map { Foundation.exp($0 - top) }
            let sum = e.reduce(0, +)
            return (0..<d).map { t in (0..<visible).reduce(0.0) { $0 + e[$1] / sum * Double(rows[$1 * stride + 2 * d + t]) } }
        }
    }

    /// One head of attention on every level against a double-precision softmax(q kᵀ · scale) v:
    /// lengths off the 8-lane blocks (1, 9, 70), head widths off them (4, 12, 40) and the real
    /// ones (32, 64), rows wider than the head (the fused QKV layout), causal and not.
    @Test func attentionMatchesDoublePrecision() throws {
        for (level, table) in try Self.tables() {
            for (length, d) in [(1, 4), (3, 12), (9, 32), (24, 32), (7, 64), (50, 64), (70, 40), (17, 16), (130, 32), (200, 64)] {
                let stride = 3 * d + 5
                let rows = Int8Tests.uniform(length * stride, seed: UInt64(length * 100 + d)).map { $0 * 3 }
                let scale = 1 / Float(d).squareRoot()
                for causal in [false, true] {
                    let ldo = d + 3
                    var out = [Float](repeating: .nan, count: length * ldo)
                    var scores = [Float](repeating: .nan, count: length)
                    rows.withUnsafeBufferPointer { r in
                        let q = r.baseAddress!
                        table.attention_f32!(Int32(length), Int32(d), q, q + d, q + 2 * d, stride, scale, causal ? 1 : 0, &scores, &out, ldo)
                    }
                    let want = Self.attention(rows, length: length, d: d, stride: stride, scale: scale, causal: causal)
                    var worst = 0.0
                    for i in 0..<length {
                        for t in 0..<d { worst = max(worst, abs(Double(out[i * ldo + t]) - want[i][t])) }
                        for t in d..<ldo { #expect(out[i * ldo + t].isNaN, "\(level): column \(t) past the head was written") }
                    }
                    // Values up to 3 in magnitude: a few float ulps of the output.
                    #expect(worst <= 1e-5, "\(level) length \(length) d \(d) causal \(causal): max |difference| \(worst)")
                }
            }
        }
    }

    /// The bf16 attention (AMX) against double precision over its own rounded operands: with q, k
    /// and v rounded to bf16 first, what is left is each softmax weight's rounding (2⁻⁹ relative)
    /// and fp32 sums, so every output is within 2⁻⁹ · max |v| (and a little) of the reference.
    /// Lengths across the 16- and 32-key blocks from 16 to the limit (256), head widths 32 to 128,
    /// causal and not; under 16 tokens, past the limit and for widths off 32, the f32 kernel's
    /// answer (1e-5). The
    /// scratch is exactly vt_attention_bf16_scratch floats, with sentinels after it.
    @Test func bf16AttentionMatchesItsRoundedOperands() throws {
        let levels = try Self.tables().filter { $0.1.attention_bf16 != nil }
        for (level, table) in levels {
            for (length, d) in [(1, 32), (3, 64), (9, 32), (15, 64), (16, 32), (17, 64), (31, 32), (32, 32), (33, 96), (37, 32), (50, 64),
                                (70, 128), (130, 32), (200, 64), (256, 32), (257, 32), (300, 64), (20, 40), (12, 16)] {
                let stride = 3 * d + 5
                let rows = Int8Tests.uniform(length * stride, seed: UInt64(length * 1000 + d)).map { $0 * 3 }
                let bf16 = (Int(VT_ATTENTION_BF16_MIN_LENGTH)...Int(VT_ATTENTION_BF16_MAX_LENGTH)).contains(length) && d % 32 == 0
                let operand = bf16 ? rows.map { HalfPrecision.float(fromBFloat16Bits: HalfPrecision.bfloat16Bits($0)) } : rows
                let scale = 1 / Float(d).squareRoot()
                let floats = vt_attention_bf16_scratch(Int32(length), Int32(d))
                #expect(floats >= length)
                let scratch = UnsafeMutablePointer<Float>(
                    OpaquePointer(UnsafeMutableRawPointer.allocate(byteCount: 4 * (floats + 64), alignment: 64)))
                defer { scratch.deallocate() }
                for causal in [false, true] {
                    scratch.initialize(repeating: .nan, count: floats + 64)
                    let ldo = d + 3
                    var out = [Float](repeating: .nan, count: length * ldo)
                    rows.withUnsafeBufferPointer { r in
                        let q = r.baseAddress!
                        table.attention_bf16!(Int32(length), Int32(d), q, q + d, q + 2 * d, stride, scale, causal ? 1 : 0, scratch, &out, ldo)
                    }
                    #expect((0..<64).allSatisfy { scratch[floats + $0].isNaN }, "\(level) length \(length) d \(d): wrote past its scratch")
                    let want = Self.attention(operand, length: length, d: d, stride: stride, scale: scale, causal: causal)
                    var worst = 0.0, largest = 0.0
                    for i in 0..<length {
                        let visible = causal ? i + 1 : length
                        for t in 0..<d {
                            worst = max(worst, abs(Double(out[i * ldo + t]) - want[i][t]))
                            largest = max(largest, (0..<visible).map { abs(Double(operand[$0 * stride + 2 * d + t])) }.max()!)
                        }
                        for t in d..<ldo { #expect(out[i * ldo + t].isNaN, "\(level): column \(t) past the head was written") }
                    }
                    let bound = bf16 ? 1.1 * largest / 512 + 1e-5 : 1e-5
                    #expect(worst <= bound, "\(level) length \(length) d \(d) causal \(causal): max |difference| \(worst) > \(bound)")
                }
            }
        }
    }

    /// A residual add and layer norm in one pass, on every level, against double precision:
    /// widths off the 8 and 16 lanes (1, 9, 37) and the real ones (384, 768), rows with a large
    /// common offset (where a one-pass variance would cancel), the output over either input.
    @Test func addLayerNormMatchesDoublePrecision() throws {
        for (level, table) in try Self.tables() {
            for cols in [1, 9, 37, 384, 768] {
                let rows = 3
                let x = Int8Tests.uniform(rows * cols, seed: UInt64(cols)).enumerated().map { $0.offset < cols ? $0.element + 30 : $0.element }
                let s = Int8Tests.uniform(rows * cols, seed: UInt64(cols) + 1).map { $0 * 2 }
                let w = Int8Tests.uniform(cols, seed: 5).map { $0 + 1 }, b = Int8Tests.uniform(cols, seed: 6)
                let eps: Float = 1e-12
                var want = [Double](repeating: 0, count: rows * cols)
                for r in 0..<rows {
                    let t = (0..<cols).map { Double(x[r * cols + $0] + s[r * cols + $0]) }  // the residual sum is a float tensor
                    let mean = t.reduce(0, +) / Double(cols)
                    let variance = t.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(cols)
                    for j in 0..<cols {
                        want[r * cols + j] = (t[j] - mean) / (variance + Double(eps)).squareRoot() * Double(w[j]) + Double(b[j])
                    }
                }
                var apart = [Float](repeating: .nan, count: rows * cols)
                table.add_layer_norm!(Int32(rows), Int32(cols), x, s, w, b, eps, &apart)
                var overX = x
                overX.withUnsafeMutableBufferPointer { table.add_layer_norm!(Int32(rows), Int32(cols), $0.baseAddress!, s, w, b, eps, $0.baseAddress!) }
                var overS = s
                overS.withUnsafeMutableBufferPointer { table.add_layer_norm!(Int32(rows), Int32(cols), x, $0.baseAddress!, w, b, eps, $0.baseAddress!) }
                #expect(overX == apart && overS == apart, "\(level) cols \(cols): the output over an input")
                for i in 0..<rows * cols where cols > 1 {
                    #expect(abs(Double(apart[i]) - want[i]) <= 2e-5 * max(1, abs(want[i])), "\(level) cols \(cols) value \(i): \(apart[i]) vs \(want[i])")
                }
                if cols == 1 { #expect(apart == b + b + b, "\(level): a one-column row is its bias") }
            }
        }
    }

    /// Quantization gives the same bytes and scales on every level, and they are the reference's:
    /// round half to even of x · qmax / max|x|, clamped; a zero row all zero with scale 0. A row
    /// with a NaN must not crash (its bytes are not specified).
    @Test func quantizationIsTheSameBytesOnEveryPath() throws {
        for (level, table) in try Self.tables() {
            for (rows, k) in [(1, 1), (1, 31), (3, 33), (3, 64), (4, 97)] {
                var x = Int8Tests.uniform(rows * k, seed: UInt64(k))
                if rows > 1 { for j in 0..<k { x[k + j] = 0 } }  // a zero row
                if rows > 2 { x[2 * k + k / 2] = .nan }  // a NaN in a row
                for qmax in [Int32(127), 63] {
                    var q = [Int8](repeating: 99, count: rows * k)
                    var scales = [Float](repeating: -1, count: rows)
                    table.quantize_rows_s8!(Int32(rows), Int32(k), x, k, &q, k, &scales, qmax)
                    for r in 0..<rows where r != 2 {
                        let row = Array(x[r * k..<(r + 1) * k])
                        let largest = row.reduce(Float(0)) { max($0, abs($1)) }
                        if r == 1 {
                            #expect(scales[r] == 0 && q[k..<2 * k].allSatisfy { $0 == 0 }, "\(level): the zero row")
                            continue
                        }
                        let inv = Float(qmax) / largest
                        #expect(scales[r] == largest / Float(qmax), "\(level) scale of row \(r)")
                        for j in 0..<k {
                            let want = Int8(max(-Float(qmax), min(Float(qmax), (row[j] * inv).rounded(.toNearestOrEven))))
                            #expect(q[r * k + j] == want, "\(level) qmax \(qmax) row \(r) column \(j): \(q[r * k + j]) != \(want)")
                        }
                    }
                }
            }
        }
    }

    /// The FMA probe does all its work (its result is the scalar recurrence's, bit for bit), and
    /// the peak it yields is a rate; without AVX2 there is none.
    @Test func fmaProbeDoesItsWork() {
        guard InstructionSet.supported >= .avx2 else {
            #expect(InstructionSet.fmaPeakGFLOPS(threads: 1) == nil)
            return
        }
        var chains = (0..<12).map { 1 + 1e-3 * Float($0) }
        for _ in 0..<1000 { chains = chains.map { Float(1e-7).addingProduct($0, 0.999999) } }
        let sum = chains.dropFirst().reduce(chains[0], +)
        #expect(vt_fma256_probe(1000) == 8 * sum)
        let peak = InstructionSet.fmaPeakGFLOPS(threads: 1)
        #expect(peak.map { $0 > 0.1 && $0.isFinite } == true, "\(String(describing: peak))")
    }

    @Test func dequantizationWideningAndActivationsMatchTheReference() throws {
        for (level, table) in try Self.tables() {
            // int32 → float with row and column scales and a bias, 13 columns (a tail past 8).
            let rows = 3, n = 13
            let c = (0..<rows * n).map { Int32($0 * 977 - 20_000) }
            let xs: [Float] = [0.5, 0.013, 3], ws = (0..<n).map { Float($0 + 1) * 0.007 }, bias = (0..<n).map { Float($0) - 6 }
            var y = [Float](repeating: .nan, count: rows * n)
            table.dequantize_s32!(Int32(rows), Int32(n), c, n, xs, ws, bias, &y, n)
            for r in 0..<rows {
                for j in 0..<n {
                    #expect(y[r * n + j] == bias[j].addingProduct(Float(c[r * n + j]), xs[r] * ws[j]), "\(level) dequantize \(r),\(j)")
                }
            }
            // bf16 widening: exact.
            let bits = (0..<37).map { UInt16(truncatingIfNeeded: $0 &* 2_654_435_761 >> 7) & 0x7F7F }
            var wide = [Float](repeating: .nan, count: bits.count)
            table.widen_bf16!(bits, &wide, bits.count)
            #expect(zip(bits, wide).allSatisfy { Float(bitPattern: UInt32($0) << 16) == $1 }, "\(level) widen")
            // The activations against Foundation's exp and erf in double precision.
            let grid = (0..<203).map { Float($0 - 101) * 0.09 }
            var quick = grid, exact = grid
            table.quick_gelu!(&quick, quick.count)
            table.gelu_erf!(&exact, exact.count)
            for (i, v) in grid.enumerated() {
                let d = Double(v)
                let wantQuick = d / (1 + Foundation.exp(-1.702 * d))
                let wantExact = 0.5 * d * (1 + Foundation.erf(d / 2.0.squareRoot()))
                #expect(abs(Double(quick[i]) - wantQuick) <= 4e-7 * max(1, abs(wantQuick)), "\(level) quick_gelu(\(v))")
                // The erfc form (portable, AVX2) is close relative to max(1, |gelu(x)|), tiny tail
                // outputs included; AVX-512's rational erf relative to max(1, |x|), as KernelTests'
                // dense grid measures it.
                let reach = level >= .avx512 ? max(1, abs(d)) : max(1, abs(wantExact))
                #expect(abs(Double(exact[i]) - wantExact) <= 4e-7 * reach, "\(level) gelu(\(v))")
            }
        }
    }
}
