import CImageCodecs

/// How the samples a codec produced are laid out, before conversion to RGB.
enum SampleLayout: Sendable, Equatable {
    case gray, grayAlpha, rgb, rgba
    /// As libjpeg delivers 4-component JPEGs: Adobe-inverted CMYK (Pillow's "CMYK;I").
    case invertedCMYK

    var channels: Int {
        switch self {
        case .gray: 1
        case .grayAlpha: 2
        case .rgb: 3
        case .rgba, .invertedCMYK: 4
        }
    }
}

/// Decoded samples straight from a codec, one of ``SampleLayout``.
struct DecodedSamples: Sendable {
    var width: Int
    var height: Int
    var layout: SampleLayout
    var samples: [UInt8]
}

/// Calls the C shims in CImageCodecs: header first, size check, then the pixels.
enum NativeCodecs {
    private typealias InfoFunction = (UnsafePointer<UInt8>?, Int, UnsafeMutablePointer<vitrine_image_info>?) -> Int32
    private typealias DecodeFunction = (UnsafePointer<UInt8>?, Int, UnsafeMutablePointer<UInt8>?, Int,
                                        UnsafeMutablePointer<vitrine_image_info>?) -> Int32

    private static func functions(for format: ImageFormat) -> (InfoFunction, DecodeFunction) {
        switch format {
        case .jpeg: (vitrine_jpeg_read_info, vitrine_jpeg_decode)
        case .png: (vitrine_png_read_info, vitrine_png_decode)
        case .webp: (vitrine_webp_read_info, vitrine_webp_decode)
        }
    }

    /// Parses the header only.
    static func header(_ bytes: UnsafeBufferPointer<UInt8>, format: ImageFormat) throws -> (width: Int, height: Int, layout: SampleLayout) {
        var info = vitrine_image_info()
        try check(functions(for: format).0(bytes.baseAddress, bytes.count, &info), info, format)
        guard let layout = layout(of: info) else {
            throw ImageError.unsupported(format, detail: "sample layout \(info.layout)")
        }
        return (Int(info.width), Int(info.height), layout)
    }

    static func decode(_ bytes: UnsafeBufferPointer<UInt8>, format: ImageFormat, maxPixels: Int) throws -> DecodedSamples {
        let readPixels = functions(for: format).1
        let (width, height, layout) = try header(bytes, format: format)
        var info = vitrine_image_info()
        // The limit is enforced on the header alone, before the codec allocates anything for pixels.
        guard let pixelCount = RGBImage.byteCount(width: width, height: height, channels: 1),
              pixelCount <= maxPixels else {
            throw ImageError.tooLarge(width: width, height: height, maxPixels: maxPixels)
        }
        guard width > 0, height > 0 else { throw ImageError.corrupt(format, detail: "image has no pixels") }
        guard let byteCount = RGBImage.byteCount(width: width, height: height, channels: layout.channels) else {
            throw ImageError.tooLarge(width: width, height: height, maxPixels: maxPixels)
        }

        var status: Int32 = 0
        let samples = [UInt8](unsafeUninitializedCapacity: byteCount) { buffer, initialized in
            status = readPixels(bytes.baseAddress, bytes.count, buffer.baseAddress, byteCount, &info)
            // On failure the contents are not meaningful, but they are thrown away below; the
            // array still counts them as initialised only so its storage is valid to free.
            if status != VITRINE_CODEC_OK.rawValue { buffer.update(repeating: 0) }
            initialized = byteCount
        }
        try check(status, info, format)
        guard Int(info.width) == width, Int(info.height) == height, self.layout(of: info) == layout else {
            throw ImageError.corrupt(format, detail: "header changed between reads")
        }
        return DecodedSamples(width: width, height: height, layout: layout, samples: samples)
    }

    private static func layout(of info: vitrine_image_info) -> SampleLayout? {
        switch UInt32(bitPattern: info.layout) {
        case VITRINE_LAYOUT_GRAY.rawValue: .gray
        case VITRINE_LAYOUT_GRAY_ALPHA.rawValue: .grayAlpha
        case VITRINE_LAYOUT_RGB.rawValue: .rgb
        case VITRINE_LAYOUT_RGBA.rawValue: .rgba
        case VITRINE_LAYOUT_CMYK.rawValue: .invertedCMYK
        default: nil
        }
    }

    private static func check(_ status: Int32, _ info: vitrine_image_info, _ format: ImageFormat) throws {
        let detail = message(of: info)
        switch UInt32(bitPattern: status) {
        case VITRINE_CODEC_OK.rawValue: return
        case VITRINE_CODEC_TRUNCATED.rawValue: throw ImageError.truncated(format, detail: detail)
        case VITRINE_CODEC_UNSUPPORTED.rawValue: throw ImageError.unsupported(format, detail: detail)
        case VITRINE_CODEC_NO_MEMORY.rawValue: throw ImageError.outOfMemory(format)
        default: throw ImageError.corrupt(format, detail: detail)
        }
    }

    private static func message(of info: vitrine_image_info) -> String {
        withUnsafeBytes(of: info.message) { raw in
            let bytes = raw.prefix { $0 != 0 }
            return String(decoding: bytes, as: UTF8.self)
        }
    }
}
