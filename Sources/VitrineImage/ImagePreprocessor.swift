import Foundation

/// Turns a decoded image into the `pixel_values` a CLIP vision tower expects, exactly as
/// transformers' `CLIPImageProcessorPil` does: Pillow resize (shortest edge, bicubic), centre
/// crop, rescale, normalise, channels first.
///
/// The steps, and where they match the reference:
/// - **Resize**: the shorter side becomes `shortest_edge` and the longer one
///   `Int(shortest_edge * long / short)` (truncated), then Pillow's fixed-point resampling
///   (``ResampleFilter``), bit for bit.
/// - **Centre crop**: offsets `(size - crop) / 2` rounded down; if the image is smaller than the
///   crop it is padded with zeros (black), the padding split with the extra pixel before the image.
/// - **Rescale**: `Float(Double(v) * rescale_factor)`: transformers multiplies in float64, then
///   casts to float32.
/// - **Normalise**: `(x - Float(mean)) / Float(std)` in float32.
///
/// Each byte value maps to one float per channel, so the last two steps are a 256-entry table
/// per channel, computed once.
public struct ImagePreprocessor: Sendable {
    /// The settings this preprocessor applies.
    public let config: PreprocessorConfig
    /// The resampling filter named by `config.resample`.
    public let filter: ResampleFilter
    private let table: [Float]  // 3 × 256: channel-major lookup of rescale + normalise
    private let cache = ResampleCoefficientCache()

    /// - Throws: ``ImageError/invalidConfiguration(_:)`` for unsupported resample filters,
    ///   non-positive sizes or mean/std without three channels.
    public init(config: PreprocessorConfig) throws {
        guard let filter = ResampleFilter(rawValue: config.resample) else {
            throw ImageError.invalidConfiguration(
                "resample \(config.resample) is not supported (use 3 bicubic or 2 bilinear)")
        }
        switch config.size {
        case .shortestEdge(let edge) where edge <= 0:
            throw ImageError.invalidConfiguration("shortest_edge must be positive, got \(edge)")
        case .exact(let h, let w) where h <= 0 || w <= 0:
            throw ImageError.invalidConfiguration("size must be positive, got \(h)×\(w)")
        default: break
        }
        guard config.cropSize.height > 0, config.cropSize.width > 0 else {
            throw ImageError.invalidConfiguration("crop_size must be positive")
        }
        guard config.imageMean.count == 3, config.imageStd.count == 3 else {
            throw ImageError.invalidConfiguration("image_mean and image_std need 3 values")
        }
        guard config.doConvertRGB else {
            throw ImageError.invalidConfiguration("do_convert_rgb false is not supported: images are always RGB")
        }
        self.config = config
        self.filter = filter

        var table = [Float](repeating: 0, count: 3 * 256)
        for channel in 0..<3 {
            let mean = Float(config.imageMean[channel]), std = Float(config.imageStd[channel])
            for v in 0..<256 {
                var x = config.doRescale ? Float(Double(v) * config.rescaleFactor) : Float(v)
                if config.doNormalize { x = (x - mean) / std }
                table[channel * 256 + v] = x
            }
        }
        self.table = table
    }

    /// Reads the preprocessor from a `preprocessor_config.json`.
    public init(contentsOf url: URL) throws {
        try self.init(config: PreprocessorConfig(contentsOf: url))
    }

    /// The `(height, width)` after resizing an image of the given size (before cropping).
    public func resizedSize(width: Int, height: Int) -> (height: Int, width: Int) {
        guard config.doResize else { return (height, width) }
        switch config.size {
        case .exact(let h, let w):
            return (h, w)
        case .shortestEdge(let edge):
            let short = min(width, height), long = max(width, height)
            guard short > 0 else { return (height, width) }
            // Python's `int(edge * long / short)`: true division, then truncation.
            let newLong = Int(Double(edge * long) / Double(short))
            return width <= height ? (newLong, edge) : (edge, newLong)
        }
    }

    /// The shape of ``pixelValues(_:)`` for an image of the given size: `(3, height, width)`.
    public func outputShape(width: Int, height: Int) -> (channels: Int, height: Int, width: Int) {
        if config.doCenterCrop { return (3, config.cropSize.height, config.cropSize.width) }
        let resized = resizedSize(width: width, height: height)
        return (3, resized.height, resized.width)
    }

    /// The output shape when it does not depend on the input (a centre crop is configured).
    public var fixedOutputShape: (channels: Int, height: Int, width: Int)? {
        config.doCenterCrop ? (3, config.cropSize.height, config.cropSize.width) : nil
    }

    /// The 8-bit image just before rescaling: resized, then centre-cropped.
    public func resizeAndCrop(_ image: RGBImage) -> RGBImage {
        var out = image
        if config.doResize {
            let target = resizedSize(width: image.width, height: image.height)
            out = PillowResample.resize(image, width: target.width, height: target.height,
                                        filter: filter, cache: cache)
        }
        if config.doCenterCrop {
            out = Self.centerCrop(out, height: config.cropSize.height, width: config.cropSize.width)
        }
        return out
    }

    /// Rescales and normalises an already resized and cropped image into `out`, channels first
    /// (`[3, height, width]`), without allocating.
    /// - Precondition: `out.count == 3 * image.width * image.height`.
    public func normalize(_ image: RGBImage, into out: UnsafeMutableBufferPointer<Float>) {
        let plane = image.width * image.height
        precondition(out.count == 3 * plane, "output buffer must hold 3 × \(image.height) × \(image.width) floats")
        table.withUnsafeBufferPointer { table in
            image.pixels.withUnsafeBufferPointer { src in
                for i in 0..<plane {
                    out[i] = table[Int(src[3 * i])]
                    out[plane + i] = table[256 + Int(src[3 * i + 1])]
                    out[2 * plane + i] = table[512 + Int(src[3 * i + 2])]
                }
            }
        }
    }

    /// The full preprocessing: ``resizeAndCrop(_:)`` then ``normalize(_:into:)``, as a
    /// `[3, height, width]` array (transformers' `pixel_values[0]`).
    public func pixelValues(_ image: RGBImage) -> [Float] {
        let prepared = resizeAndCrop(image)
        let count = 3 * prepared.width * prepared.height
        return [Float](unsafeUninitializedCapacity: count) { buffer, initialized in
            normalize(prepared, into: UnsafeMutableBufferPointer(rebasing: buffer[0..<count]))
            initialized = count
        }
    }

    /// transformers' `center_crop`: top-left at `(size - crop) // 2`; when the crop is larger
    /// than the image, the image is first placed on a zero canvas at offset
    /// `ceil((crop - size) / 2)`.
    static func centerCrop(_ image: RGBImage, height: Int, width: Int) -> RGBImage {
        if image.width == width && image.height == height { return image }
        // Floor division, as Python's //, also for negative differences.
        func floorHalf(_ d: Int) -> Int { d >= 0 ? d / 2 : -((-d + 1) / 2) }
        let top = floorHalf(image.height - height), left = floorHalf(image.width - width)
        var out = [UInt8](repeating: 0, count: width * height * 3)
        image.pixels.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                for y in 0..<height {
                    let sy = top + y
                    guard sy >= 0 && sy < image.height else { continue }
                    let x0 = max(0, -left), x1 = min(width, image.width - left)
                    guard x0 < x1 else { continue }
                    let s = (sy * image.width + left + x0) * 3, d = (y * width + x0) * 3
                    for i in 0..<(x1 - x0) * 3 { dst[d + i] = src[s + i] }
                }
            }
        }
        return RGBImage(uncheckedWidth: width, height: height, pixels: out)
    }
}
