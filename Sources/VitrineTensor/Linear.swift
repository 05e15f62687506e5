import CVitrineKernels
import Dispatch

/// How a model's linear-layer weights are stored in memory.
public enum Precision: String, Sendable, CaseIterable {
    /// 32-bit floats, exactly the checkpoint's values: the default, and the one parity holds for.
    case fp32
    /// bfloat16 (rounded to nearest even): half the memory and half the bytes a text query
    /// streams; activations and sums stay fp32.
    case bf16
    /// Symmetric 8-bit integers per output channel for the weights, each input row quantized on
    /// the fly with its own scale, products summed exactly in int32: a quarter of fp32's weight
    /// bytes. With AVX-512 VNNI one kernel over weights packed at load time serves every number of
    /// rows (with AMX, tiles take 16 rows and more); on plain AVX2 a streaming kernel takes a few rows and a blocked one batches. Only a
    /// CPU without AVX2 (oneDNN's GEMM) keeps 7-bit weights (see ``Linear/int8WeightLimit``).
    case int8
}

/// A fully connected layer `y = x · Wᵀ + b`, with `W` stored `[outFeatures, inFeatures]` as in
/// PyTorch's `nn.Linear`, so checkpoints load without transposing.
public struct Linear: Sendable {
    public let inFeatures: Int
    public let outFeatures: Int
    /// `[outFeatures]`, or `nil` for a layer without bias.
    public let bias: [Float]?
    let weights: Weights

    enum Weights: Sendable {
        case fp32([Float])
        case bf16([UInt16])
        case int8(QuantizedWeights)
    }

    /// `values[n][k] · scales[n]` approximates the weight `[n][k]`; `sums[n]` is `Σ_k values[n][k]`
    /// (the VNNI kernel's correction for its unsigned inputs). Where the VNNI kernel runs, the
    /// values are kept only in its packed layout (`packed`, from `vt_pack_s8_vnni`) and `values`
    /// is empty; elsewhere `packed` is.
    struct QuantizedWeights: Sendable {
        let values: [Int8]
        let packed: [Int8]
        let scales: [Float]
        let sums: [Int32]

        /// The quantized weight `[n][k]` of a layer with `columns` inputs, from either layout.
        func value(_ n: Int, _ k: Int, columns: Int) -> Int8 {
            if !values.isEmpty { return values[n * columns + k] }
            return packed[(n / 16) * 64 * ((columns + 3) / 4) + 64 * (k / 4) + 4 * (n % 16) + k % 4]
        }
    }

    public var precision: Precision {
        switch weights {
        case .fp32: .fp32
        case .bf16: .bf16
        case .int8: .int8
        }
    }

    /// - Parameter weight: row-major `[outFeatures, inFeatures]`, stored at `precision`.
    public init(weight: [Float], bias: [Float]?, inFeatures: Int, outFeatures: Int, precision: Precision = .fp32) {
        precondition(weight.count == inFeatures * outFeatures, "Linear weight has the wrong size")
        precondition(bias.map { $0.count == outFeatures } ?? true, "Linear bias has the wrong size")
        self.inFeatures = inFeatures
        self.outFeatures = outFeatures
        self.bias = bias
        switch precision {
        case .fp32: weights = .fp32(weight)
        case .bf16: weights = .bf16(weight.map(HalfPrecision.bfloat16Bits))
        case .int8: weights = .int8(Self.quantize(weight, rows: outFeatures, columns: inFeatures, limit: Self.int8WeightLimit))
        }
    }

    /// Applies the layer to `rows` input rows; `output` must hold `rows × outFeatures` floats.
    public func callAsFunction(
        _ input: UnsafePointer<Float>, rows: Int, into output: UnsafeMutablePointer<Float>
    ) {
        callAsFunction(input, rows: rows, into: output, streamingUpTo: Self.fewRowsLimit)
    }

    /// The same, streaming the weights (no GEMM) for up to `streamingRows` rows: a caller whose
    /// batches are a few dozen rows (several text queries) picks this over OpenBLAS, whose
    /// weight packing costs as much as the product there.
    public func callAsFunction(
        _ input: UnsafePointer<Float>, rows: Int, into output: UnsafeMutablePointer<Float>, streamingUpTo streamingRows: Int
    ) {
        if case .int8(let weight) = weights, !weight.packed.isEmpty {
            packedInt8(weight, input, rows: rows, into: output)
            return
        }
        if rows <= streamingRows {
            fewRows(input, rows: rows, into: output)
            return
        }
        if case .int8(let weight) = weights {
            if ActiveKernels.table.gemm_s8 != nil {
                blockedInt8(weight, input, rows: rows, into: output)
                return
            }
            if int8GEMM(weight, input, rows: rows, into: output) { return }
        }
        floatProduct(input, rows: rows, into: output)
    }

    /// The product through OpenBLAS's sgemm, weights widened to floats when they are stored narrower.
    func floatProduct(_ input: UnsafePointer<Float>, rows: Int, into output: UnsafeMutablePointer<Float>) {
        // The bias is written first and the product accumulated onto it (`beta = 1`), which
        // saves a separate pass over the output.
        if let bias {
            bias.withUnsafeBufferPointer { b in
                for r in 0..<rows {
                    (output + r * outFeatures).update(from: b.baseAddress!, count: outFeatures)
                }
            }
        }
        let beta: Float = bias == nil ? 0 : 1
        switch weights {
        case .fp32(let weight):
            weight.withUnsafeBufferPointer { w in
                if OneDNN.fp32GEMM {
                    if OneDNN.sgemm(
                        m: rows, n: outFeatures, k: inFeatures, a: input, lda: inFeatures, b: w.baseAddress!, ldb: inFeatures,
                        c: output, ldc: outFeatures, beta: beta)
                    {
                        return
                    }
                    // oneDNN failed: the output may be partly written, so the bias goes back in first.
                    if let bias {
                        for r in 0..<rows { (output + r * outFeatures).update(from: bias, count: outFeatures) }
                    }
                }
                BLAS.gemm(
                    m: rows, n: outFeatures, k: inFeatures, a: input, lda: inFeatures,
                    b: w.baseAddress!, ldb: inFeatures, transposeB: true, c: output, ldc: outFeatures, beta: beta)
            }
        case .bf16(let weight):
            // Widen a band of output rows at a time into a small float panel and multiply it:
            // the widening is O(weights), the product O(rows × weights), so batches pay little.
            let band = min(outFeatures, Self.widenBand)
            withUnsafeTemporaryAllocation(of: Float.self, capacity: band * inFeatures) { panel in
                weight.withUnsafeBufferPointer { w in
                    for start in stride(from: 0, to: outFeatures, by: band) {
                        let count = min(band, outFeatures - start)
                        HalfPrecision.widen(bfloat16: w.baseAddress! + start * inFeatures, into: panel.baseAddress!, count: count * inFeatures)
                        BLAS.gemm(
                            m: rows, n: count, k: inFeatures, a: input, lda: inFeatures,
                            b: panel.baseAddress!, ldb: inFeatures, transposeB: true,
                            c: output + start, ldc: outFeatures, beta: beta)
                    }
                }
            }
        case .int8(let weight):
            // Reached only when oneDNN failed (or a test asks for it): the weights widened back to floats, band by band.
            let band = min(outFeatures, Self.widenBand)
            withUnsafeTemporaryAllocation(of: Float.self, capacity: band * inFeatures) { panel in
                for start in stride(from: 0, to: outFeatures, by: band) {
                    let count = min(band, outFeatures - start)
                    for n in 0..<count {
                        let scale = weight.scales[start + n]
                        for j in 0..<inFeatures {
                            panel[n * inFeatures + j] = Float(weight.value(start + n, j, columns: inFeatures)) * scale
                        }
                    }
                    BLAS.gemm(
                        m: rows, n: count, k: inFeatures, a: input, lda: inFeatures,
                        b: panel.baseAddress!, ldb: inFeatures, transposeB: true,
                        c: output + start, ldc: outFeatures, beta: beta)
                }
            }
        }
    }

    /// Per-row symmetric quantization of a row-major `[rows, columns]` matrix to `[-limit, limit]`.
    static func quantize(_ matrix: [Float], rows: Int, columns: Int, limit: Int32) -> QuantizedWeights {
        var scales = [Float](repeating: 0, count: rows)
        let values = [Int8](unsafeUninitializedCapacity: rows * columns) { q, count in
            matrix.withUnsafeBufferPointer { m in
                scales.withUnsafeMutableBufferPointer { s in
                    vt_quantize_rows_s8(
                        Int32(rows), Int32(columns), m.baseAddress!, columns, q.baseAddress!, columns, s.baseAddress!, limit)
                }
            }
            count = rows * columns
        }
        let sums = (0..<rows).map { n in values[n * columns..<(n + 1) * columns].reduce(Int32(0)) { $0 + Int32($1) } }
        guard ActiveKernels.table.gemm_s8_packed != nil else {
            return QuantizedWeights(values: values, packed: [], scales: scales, sums: sums)
        }
        let size = vt_packed_s8_size(Int32(rows), Int32(columns))
        let packed = [Int8](unsafeUninitializedCapacity: size) { p, count in
            values.withUnsafeBufferPointer { vt_pack_s8_vnni(Int32(rows), Int32(columns), $0.baseAddress!, p.baseAddress!) }
            count = size
        }
        return QuantizedWeights(values: [], packed: packed, scales: scales, sums: sums)
    }

    /// The largest weight magnitude after quantization that the int8 batch product sums exactly
    /// here: 127 with Vitrine's kernels (VNNI, AVX2) or oneDNN's VNNI one. oneDNN's kernels without
    /// VNNI (reached only on CPUs without AVX2, or with `VITRINE_ISA=portable`) add byte pairs with
    /// `pmaddubsw` into a saturating int16, which is exact only with 7-bit weights: 63 there.
    public static var int8WeightLimit: Int32 {
        ActiveKernels.table.gemm_s8_packed != nil || ActiveKernels.table.gemm_s8 != nil || OneDNN.hasVNNI ? 127 : 63
    }

    /// What multiplies int8 batches here, for reports.
    public static var int8BatchKernel: String {
        if ActiveKernels.table.gemm_s8_packed != nil {
            return ActiveKernels.table.isa == VT_ISA_AMX ? "Vitrine's AMX kernel (packed weights; VNNI under 16 rows)" : "Vitrine's VNNI kernel (packed weights)"
        }
        return ActiveKernels.table.gemm_s8 != nil ? "Vitrine's blocked kernel" : "oneDNN \(OneDNN.hasVNNI ? "with" : "without") VNNI"
    }

    /// Quantizes the input rows (8 bits, a scale per row) straight to the unsigned bytes the kernel
    /// reads and multiplies them with the packed int8 weights through the VNNI or AMX kernel, the output columns split across
    /// threads in pairs of 16-column panels: for a few rows when each thread streams at least 256
    /// columns of weights, for more rows when each gets at least `packedWorkPerPart` multiply-adds.
    private func packedInt8(_ weight: QuantizedWeights, _ input: UnsafePointer<Float>, rows: Int, into output: UnsafeMutablePointer<Float>) {
        let ldx = (inFeatures + 3) / 4 * 4
        Scratch.with(UInt8.self, count: rows * ldx) { x in
            Scratch.with(Float.self, count: rows) { scales in
                ActiveKernels.table.quantize_rows_u8!(Int32(rows), Int32(inFeatures), input, inFeatures, x, ldx, scales, 127)
                packedProduct(weight, x, ldx: ldx, scales: scales, rows: rows, into: output)
            }
        }
    }

    /// The packed kernel over input rows already quantized and flipped (`x`, `ldx` bytes a row,
    /// `scales` theirs).
    private func packedProduct(_ weight: QuantizedWeights, _ x: UnsafePointer<UInt8>, ldx: Int, scales: UnsafePointer<Float>,
                               rows: Int, into output: UnsafeMutablePointer<Float>) {
        let pairs = (outFeatures + 31) / 32
        let work = rows * inFeatures * outFeatures
        let parts = min(BLAS.threads, pairs, max(1, outFeatures / 256, work / Self.packedWorkPerPart))
        let call = PackedInt8Call(rows: rows, k: inFeatures, n: outFeatures, x: x, ldx: ldx, xs: scales, y: output)
        withPackedOperands(weight) { call.run(parts: parts, $0) }
    }

    /// The packed weights, their sums and scales and the bias as the packed kernels take them.
    private func withPackedOperands<R>(_ weight: QuantizedWeights, _ body: (PackedOperands) -> R) -> R {
        weight.packed.withUnsafeBufferPointer { w in
            weight.sums.withUnsafeBufferPointer { wsum in
                weight.scales.withUnsafeBufferPointer { ws in
                    (bias ?? []).withUnsafeBufferPointer { b in
                        body(PackedOperands(w: w.baseAddress!, wsum: wsum.baseAddress!, ws: ws.baseAddress!,
                                            bias: bias == nil ? nil : b.baseAddress))
                    }
                }
            }
        }
    }

    /// `second(gelu(first(input)))`, a feed-forward block, with int8 weights on AMX: the first
    /// layer, its GELU and the quantization of the second's input run 32 rows at a time
    /// (vt_gemm_s8_amx_gelu_u8), so the first layer's float output never leaves the cache. The
    /// same numbers as the three steps one after the other. Returns false, having done nothing,
    /// where it does not apply: other precisions or levels, fewer than 32 rows.
    public static func geluFeedForward(_ first: Linear, _ second: Linear, _ input: UnsafePointer<Float>, rows: Int,
                                       into output: UnsafeMutablePointer<Float>) -> Bool {
        guard ActiveKernels.table.isa == VT_ISA_AMX, rows >= 32, first.outFeatures == second.inFeatures,
              case .int8(let w1) = first.weights, !w1.packed.isEmpty,
              case .int8(let w2) = second.weights, !w2.packed.isEmpty else { return false }
        let k = first.inFeatures, n = first.outFeatures
        let ldx = (k + 3) / 4 * 4, ldu = (n + 3) / 4 * 4
        // Rows split across threads, at least 32 each; each part has its own 32-row block.
        let parts = min(BLAS.threads, max(1, rows / 32))
        Scratch.with(UInt8.self, count: rows * ldx) { x in
            Scratch.with(Float.self, count: rows) { xs in
                ActiveKernels.table.quantize_rows_u8!(Int32(rows), Int32(k), input, k, x, ldx, xs, 127)
                Scratch.with(UInt8.self, count: rows * ldu) { u in
                    Scratch.with(Float.self, count: rows) { us in
                        Scratch.with(Float.self, count: parts * 32 * n) { blocks in
                            let call = GELUFeedForwardCall(rows: rows, k: k, n: n, x: x, ldx: ldx, xs: xs, blocks: blocks, u: u, ldu: ldu, us: us)
                            first.withPackedOperands(w1) { call.run(parts: parts, $0) }
                        }
                        second.packedProduct(w2, u, ldx: ldu, scales: us, rows: rows, into: output)
                    }
                }
            }
        }
        return true
    }

    /// Quantizes the input rows (8 bits, a scale per row), widens them to int16 and multiplies
    /// them with the int8 weights through the active kernels' blocked product, the output columns
    /// split across threads in multiples of 16, each with its own weight panel.
    private func blockedInt8(_ weight: QuantizedWeights, _ input: UnsafePointer<Float>, rows: Int, into output: UnsafeMutablePointer<Float>) {
        let ldx = inFeatures + (inFeatures & 1)
        let panel = vt_gemm_s8_panel(Int32(inFeatures))
        let parts = min(BLAS.threads, max(1, outFeatures / 64))
        Scratch.with(Int8.self, count: rows * inFeatures) { q in
            Scratch.with(Int16.self, count: rows * ldx + parts * panel) { scratch in
                Scratch.with(Float.self, count: rows) { scales in
                    vt_quantize_rows_s8(Int32(rows), Int32(inFeatures), input, inFeatures, q, inFeatures, scales, 127)
                    vt_widen_s8_pairs(Int32(rows), Int32(inFeatures), q, inFeatures, scratch, ldx)
                    let call = BlockedInt8Call(
                        rows: rows, k: inFeatures, n: outFeatures, x: scratch, ldx: ldx, xs: scales,
                        panels: scratch + rows * ldx, panel: panel, y: output)
                    weight.values.withUnsafeBufferPointer { w in
                        weight.scales.withUnsafeBufferPointer { ws in
                            (bias ?? []).withUnsafeBufferPointer { b in
                                call.run(parts: parts, w: w.baseAddress!, ws: ws.baseAddress!, bias: bias == nil ? nil : b.baseAddress)
                            }
                        }
                    }
                }
            }
        }
    }

    /// Quantizes the input rows (8 bits, a scale per row), multiplies them with the int8 weights
    /// through oneDNN into the output memory read as int32, then scales that back to floats in
    /// place and adds the bias. Falls back to float products if oneDNN reports an error.
    private func int8GEMM(_ weight: QuantizedWeights, _ input: UnsafePointer<Float>, rows: Int, into output: UnsafeMutablePointer<Float>) -> Bool {
        Scratch.with(Int8.self, count: rows * inFeatures) { q in
            Scratch.with(Float.self, count: rows) { scales in
                vt_quantize_rows_s8(Int32(rows), Int32(inFeatures), input, inFeatures, q, inFeatures, scales, 127)
                return output.withMemoryRebound(to: Int32.self, capacity: rows * outFeatures) { c in
                    let ok = weight.values.withUnsafeBufferPointer { w in
                        OneDNN.gemmS8(m: rows, n: outFeatures, k: inFeatures, a: q, b: w.baseAddress!, c: c, ldc: outFeatures)
                    }
                    guard ok else { return false }
                    weight.scales.withUnsafeBufferPointer { ws in
                        (bias ?? []).withUnsafeBufferPointer { b in
                            vt_dequantize_s32(
                                Int32(rows), Int32(outFeatures), c, outFeatures, scales, ws.baseAddress!,
                                bias == nil ? nil : b.baseAddress, output, outFeatures)
                        }
                    }
                    return true
                }
            }
        }
    }

    /// About 16 µs of the VNNI kernel: below this, waking another thread costs more than it saves.
    static let packedWorkPerPart = 1 << 22

    /// Output rows of a bf16 weight widened per GEMM call.
    static let widenBand = 256

    /// Up to this many rows (a text query's tokens) a layer is a matrix–vector product in
    /// disguise: GEMM would spend its time packing the weights, so a kernel that streams each
    /// weight row once does the work instead, the output columns split across threads. The
    /// kernel is the active instruction set's (``InstructionSet``); the int8 one is exact on each.
    public static let fewRowsLimit = 16

    private func fewRows(_ input: UnsafePointer<Float>, rows: Int, into output: UnsafeMutablePointer<Float>) {
        let parts = min(BLAS.threads, max(1, outFeatures / 256))
        (bias ?? []).withUnsafeBufferPointer { b in
            let biasPointer = bias == nil ? nil : b.baseAddress
            switch weights {
            case .fp32(let weight):
                weight.withUnsafeBufferPointer { w in
                    FewRowsCall(rows: rows, k: inFeatures, n: outFeatures, x: input, bias: biasPointer, y: output) {
                        ActiveKernels.table.few_rows_f32!($0, $1, $2, $3, $4, w.baseAddress!, $5, $6, $7)
                    }.run(parts: parts)
                }
            case .bf16(let weight):
                weight.withUnsafeBufferPointer { w in
                    FewRowsCall(rows: rows, k: inFeatures, n: outFeatures, x: input, bias: biasPointer, y: output) {
                        ActiveKernels.table.few_rows_bf16!($0, $1, $2, $3, $4, w.baseAddress!, $5, $6, $7)
                    }.run(parts: parts)
                }
            case .int8(let weight):
                // The few input rows are quantized once; every part reads them.
                withUnsafeTemporaryAllocation(of: Int8.self, capacity: rows * inFeatures) { q in
                    withUnsafeTemporaryAllocation(of: Float.self, capacity: rows) { scales in
                        vt_quantize_rows_s8(
                            Int32(rows), Int32(inFeatures), input, inFeatures, q.baseAddress!, inFeatures, scales.baseAddress!, 127)
                        let qx = UnsafePointer(q.baseAddress!), sx = UnsafePointer(scales.baseAddress!)
                        weight.values.withUnsafeBufferPointer { w in
                            weight.scales.withUnsafeBufferPointer { ws in
                                weight.sums.withUnsafeBufferPointer { wsum in
                                    let call = FewRowsCall(rows: rows, k: inFeatures, n: outFeatures, x: input, bias: biasPointer, y: output) {
                                        ActiveKernels.table.few_rows_s8!($0, $1, $2, $3, qx, sx, w.baseAddress!, wsum.baseAddress!, ws.baseAddress!, $5, $6, $7)
                                    }
                                    call.run(parts: parts)
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// One packed int8 product (VNNI or AMX), split by output columns into ranges of whole 32-column pairs of panels.
private struct PackedInt8Call: @unchecked Sendable {
    let rows: Int, k: Int, n: Int
    let x: UnsafePointer<UInt8>, ldx: Int
    let xs: UnsafePointer<Float>
    let y: UnsafeMutablePointer<Float>

    func run(parts: Int, _ weights: PackedOperands) {
        let kernel = ActiveKernels.table.gemm_s8_packed!
        let work: @Sendable (Int) -> Void = { part in
            let pairs = (n + 31) / 32
            let begin = min(n, pairs * part / parts * 32), end = min(n, pairs * (part + 1) / parts * 32)
            guard begin < end else { return }
            kernel(
                Int32(rows), Int32(k), Int32(begin), Int32(end), x, ldx, xs, weights.w, weights.wsum, weights.ws,
                weights.bias, y, Int32(n))
        }
        if parts == 1 { work(0) } else { DispatchQueue.concurrentPerform(iterations: parts, execute: work) }
    }
}

/// A packed int8 layer's operands for its kernels: the packed weights, Σ_k w per column, the
/// column scales and the bias (nil when the layer has none). They outlive every part of a call.
private struct PackedOperands: @unchecked Sendable {
    let w: UnsafePointer<Int8>, wsum: UnsafePointer<Int32>, ws: UnsafePointer<Float>, bias: UnsafePointer<Float>?
}

/// One fused feed-forward first layer (vt_gemm_s8_amx_gelu_u8), split by rows into contiguous
/// ranges of at least 32, each with its own block of 32 rows.
private struct GELUFeedForwardCall: @unchecked Sendable {
    let rows: Int, k: Int, n: Int
    let x: UnsafePointer<UInt8>, ldx: Int
    let xs: UnsafePointer<Float>
    let blocks: UnsafeMutablePointer<Float>
    let u: UnsafeMutablePointer<UInt8>, ldu: Int
    let us: UnsafeMutablePointer<Float>

    func run(parts: Int, _ weights: PackedOperands) {
        let work: @Sendable (Int) -> Void = { part in
            let begin = rows * part / parts, end = rows * (part + 1) / parts
            vt_gemm_s8_amx_gelu_u8(
                Int32(end - begin), Int32(k), Int32(n), x + begin * ldx, ldx, xs + begin, weights.w, weights.wsum, weights.ws,
                weights.bias, blocks + part * 32 * n, u + begin * ldu, ldu, us + begin)
        }
        if parts == 1 { work(0) } else { DispatchQueue.concurrentPerform(iterations: parts, execute: work) }
    }
}

/// One blocked int8 product, split by output columns into ranges of whole 16-column panels.
private struct BlockedInt8Call: @unchecked Sendable {
    let rows: Int, k: Int, n: Int
    let x: UnsafePointer<Int16>, ldx: Int
    let xs: UnsafePointer<Float>
    let panels: UnsafeMutablePointer<Int16>, panel: Int
    let y: UnsafeMutablePointer<Float>

    func run(parts: Int, w: UnsafePointer<Int8>, ws: UnsafePointer<Float>, bias: UnsafePointer<Float>?) {
        let kernel = ActiveKernels.table.gemm_s8!
        let pointers = Pointers(w: w, ws: ws, bias: bias)
        let work: @Sendable (Int) -> Void = { part in
            let panelsTotal = (n + 15) / 16
            let begin = min(n, panelsTotal * part / parts * 16), end = min(n, panelsTotal * (part + 1) / parts * 16)
            guard begin < end else { return }
            kernel(
                Int32(rows), Int32(k), Int32(begin), Int32(end), x, ldx, xs, pointers.w, pointers.ws, pointers.bias,
                y, Int32(n), panels + part * panel)
        }
        if parts == 1 { work(0) } else { DispatchQueue.concurrentPerform(iterations: parts, execute: work) }
    }

    private struct Pointers: @unchecked Sendable {
        let w: UnsafePointer<Int8>, ws: UnsafePointer<Float>, bias: UnsafePointer<Float>?
    }
}

/// One few-rows product, split by output columns into even-sized ranges run in parallel. The
/// pointers outlive every part: `concurrentPerform` returns only when all have run.
private struct FewRowsCall: @unchecked Sendable {
    let rows: Int, k: Int, n: Int
    let x: UnsafePointer<Float>
    let bias: UnsafePointer<Float>?
    let y: UnsafeMutablePointer<Float>
    let kernel: (Int32, Int32, Int32, Int32, UnsafePointer<Float>, UnsafePointer<Float>?, UnsafeMutablePointer<Float>, Int32) -> Void

    func run(parts: Int) {
        if parts == 1 { run(part: 0, of: 1) } else { DispatchQueue.concurrentPerform(iterations: parts) { run(part: $0, of: parts) } }
    }

    private func run(part: Int, of parts: Int) {
        let begin = n * part / parts / 2 * 2
        let end = part == parts - 1 ? n : n * (part + 1) / parts / 2 * 2
        kernel(Int32(rows), Int32(k), Int32(begin), Int32(end), x, bias, y, Int32(n))
    }
}
