import Synchronization

/// The resampling filters ``ImagePreprocessor`` supports, numbered as Pillow's `Image.Resampling`
/// (the `resample` field of `preprocessor_config.json`).
public enum ResampleFilter: Int, Sendable, CaseIterable {
    case bilinear = 2
    case bicubic = 3

    /// Half-width of the kernel, in source pixels, when not downscaling.
    var support: Double {
        switch self {
        case .bilinear: 1
        case .bicubic: 2
        }
    }

    /// The kernel. Bicubic is the Keys cubic with a = -0.5, as Pillow uses; written in Horner form
    /// with the same operation order as Pillow so every weight is the same double.
    @inline(__always)
    func weight(_ t: Double) -> Double {
        let x = abs(t)
        switch self {
        case .bilinear:
            return x < 1 ? 1 - x : 0
        case .bicubic:
            // (a + 2) = 1.5 and (a + 3) = 2.5 for a = -0.5.
            if x < 1 { return (1.5 * x - 2.5) * x * x + 1 }
            if x < 2 { return (((x - 5) * x + 8) * x - 4) * -0.5 }
            return 0
        }
    }
}

/// Fixed-point weights for resampling one axis from `inSize` to `outSize` samples, computed as
/// Pillow's `Resample.c` does for 8-bit images: the kernel is widened by the downscale factor,
/// each output's window is rounded to whole source pixels and clipped to the image, its weights
/// are normalised to sum to 1 and then rounded (half away from zero) to 22 fractional bits.
struct ResampleCoefficients: Sendable {
    static let precisionBits = 22  // 32 bits - 8 for the sample - 2 for overshoot and sign

    let inSize: Int
    let outSize: Int
    /// Stride between the weight windows of consecutive outputs.
    let taps: Int
    /// First source sample of each output's window.
    let starts: [Int]
    /// Number of source samples in each output's window (≤ `taps`).
    let counts: [Int]
    /// `outSize * taps` weights, each window zero-padded to `taps`.
    let weights: [Int32]

    init(inSize: Int, outSize: Int, filter: ResampleFilter) {
        precondition(inSize > 0 && outSize > 0)
        self.inSize = inSize
        self.outSize = outSize
        // Pillow computes the box width in single precision before widening it; integer sizes
        // below 2^24 are exact either way.
        let scale = Double(Float(inSize)) / Double(outSize)
        let filterScale = max(scale, 1)
        let support = filter.support * filterScale
        let taps = Int(support.rounded(.up)) * 2 + 1
        self.taps = taps

        var starts = [Int](repeating: 0, count: outSize)
        var counts = [Int](repeating: 0, count: outSize)
        var weights = [Int32](repeating: 0, count: outSize * taps)
        var window = [Double](repeating: 0, count: taps)
        let inverseScale = 1 / filterScale
        let one = Double(1 << Self.precisionBits)
        for out in 0..<outSize {
            let center = (Double(out) + 0.5) * scale
            // Truncation toward zero, as C's (int) cast; negatives clip to 0 anyway.
            let first = max(Int(center - support + 0.5), 0)
            let end = min(Int(center + support + 0.5), inSize)
            let count = max(end - first, 0)
            var sum = 0.0
            for i in 0..<count {
                let w = filter.weight((Double(first + i) - center + 0.5) * inverseScale)
                window[i] = w
                sum += w
            }
            for i in 0..<count {
                let w = sum != 0 ? window[i] / sum : window[i]
                weights[out * taps + i] = Int32(w < 0 ? -0.5 + w * one : 0.5 + w * one)
            }
            starts[out] = first
            counts[out] = count
        }
        self.starts = starts
        self.counts = counts
        self.weights = weights
    }
}

/// Remembers recent coefficient tables: catalog photos come in few distinct sizes, and every one
/// of them maps to the same 224-pixel edge.
final class ResampleCoefficientCache: Sendable {
    private struct Key: Hashable { var inSize: Int, outSize: Int, filter: ResampleFilter }
    private let entries = Mutex<[Key: ResampleCoefficients]>([:])
    private let capacity: Int

    init(capacity: Int = 64) { self.capacity = capacity }

    func coefficients(inSize: Int, outSize: Int, filter: ResampleFilter) -> ResampleCoefficients {
        let key = Key(inSize: inSize, outSize: outSize, filter: filter)
        if let hit = entries.withLock({ $0[key] }) { return hit }
        let fresh = ResampleCoefficients(inSize: inSize, outSize: outSize, filter: filter)
        entries.withLock { table in
            if table.count >= capacity { table.removeAll(keepingCapacity: true) }
            table[key] = fresh
        }
        return fresh
    }
}

/// Pillow's `Image.resize` for 8-bit RGB, bit for bit: a horizontal pass, then a vertical pass,
/// each rounding and clipping to 8 bits; a pass is skipped when its axis keeps its size.
enum PillowResample {
    static func resize(_ image: RGBImage, width: Int, height: Int, filter: ResampleFilter,
                       cache: ResampleCoefficientCache) -> RGBImage {
        precondition(width > 0 && height > 0, "resize target must be positive")
        if width == image.width && height == image.height { return image }
        guard image.width > 0, image.height > 0 else {
            return RGBImage(uncheckedWidth: width, height: height, pixels: [UInt8](repeating: 0, count: width * height * 3))
        }
        let vertical = cache.coefficients(inSize: image.height, outSize: height, filter: filter)
        var current = image
        var rowOffset = 0
        if width != image.width {
            // Only the rows the vertical pass will read (all of them, unless it crops).
            let rows = height != image.height
                ? vertical.starts[0]..<(vertical.starts[height - 1] + vertical.counts[height - 1])
                : 0..<image.height
            let horizontal = cache.coefficients(inSize: image.width, outSize: width, filter: filter)
            current = horizontalPass(image, rows: rows, coefficients: horizontal)
            rowOffset = rows.lowerBound
        }
        if height != image.height {
            current = verticalPass(current, rowOffset: rowOffset, coefficients: vertical)
        }
        return current
    }

    @inline(__always)
    private static func clip(_ sum: Int32) -> UInt8 {
        UInt8(clamping: sum >> Int32(ResampleCoefficients.precisionBits))
    }

    private static let rounding = Int32(1 << (ResampleCoefficients.precisionBits - 1))

    private static func horizontalPass(_ image: RGBImage, rows: Range<Int>, coefficients c: ResampleCoefficients) -> RGBImage {
        let outWidth = c.outSize
        var out = [UInt8](repeating: 0, count: outWidth * rows.count * 3)
        image.pixels.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                c.weights.withUnsafeBufferPointer { weights in
                    for (outRow, row) in rows.enumerated() {
                        let rowStart = row * image.width * 3
                        let dstRow = outRow * outWidth * 3
                        for x in 0..<outWidth {
                            var r = rounding, g = rounding, b = rounding
                            var p = rowStart + c.starts[x] * 3
                            let k = x * c.taps
                            for i in 0..<c.counts[x] {
                                let w = weights[k + i]
                                r &+= Int32(src[p]) &* w
                                g &+= Int32(src[p + 1]) &* w
                                b &+= Int32(src[p + 2]) &* w
                                p += 3
                            }
                            dst[dstRow + 3 * x] = clip(r)
                            dst[dstRow + 3 * x + 1] = clip(g)
                            dst[dstRow + 3 * x + 2] = clip(b)
                        }
                    }
                }
            }
        }
        return RGBImage(uncheckedWidth: outWidth, height: rows.count, pixels: out)
    }

    /// Accumulates whole rows at a time (integer sums, so the order of terms does not matter),
    /// which keeps the inner loop contiguous and vectorisable.
    private static func verticalPass(_ image: RGBImage, rowOffset: Int, coefficients c: ResampleCoefficients) -> RGBImage {
        let rowBytes = image.width * 3
        var out = [UInt8](repeating: 0, count: rowBytes * c.outSize)
        var sums = [Int32](repeating: 0, count: rowBytes)
        image.pixels.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                sums.withUnsafeMutableBufferPointer { acc in
                    for y in 0..<c.outSize {
                        acc.update(repeating: rounding)
                        for i in 0..<c.counts[y] {
                            let w = c.weights[y * c.taps + i]
                            let row = (c.starts[y] - rowOffset + i) * rowBytes
                            for j in 0..<rowBytes {
                                acc[j] &+= Int32(src[row + j]) &* w
                            }
                        }
                        let dstRow = y * rowBytes
                        for j in 0..<rowBytes { dst[dstRow + j] = clip(acc[j]) }
                    }
                }
            }
        }
        return RGBImage(uncheckedWidth: image.width, height: c.outSize, pixels: out)
    }
}
