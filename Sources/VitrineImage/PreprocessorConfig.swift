import Foundation

/// The image part of a Hugging Face `preprocessor_config.json`.
///
/// Missing fields take `CLIPImageProcessor`'s class defaults (shortest edge 224, bicubic, centre
/// crop 224×224, rescale by 1/255, OpenAI CLIP mean and std), as transformers fills them in.
/// Older configs that give `size` or `crop_size` as a bare integer are accepted: `size: 224`
/// means a shortest edge of 224 (CLIP does not default to square) and `crop_size: 224` a square.
public struct PreprocessorConfig: Sendable, Equatable, Decodable {
    /// The target of the resize step.
    public enum Size: Sendable, Equatable {
        /// Scale so the shorter side has this length, keeping the aspect ratio.
        case shortestEdge(Int)
        /// Scale to exactly this size.
        case exact(height: Int, width: Int)
    }

    public var doResize: Bool = true
    public var size: Size = .shortestEdge(224)
    /// Pillow's resampling filter number (2 bilinear, 3 bicubic).
    public var resample: Int = 3
    public var doCenterCrop: Bool = true
    public var cropSize: (height: Int, width: Int) = (224, 224)
    public var doRescale: Bool = true
    public var rescaleFactor: Double = 1.0 / 255.0
    public var doNormalize: Bool = true
    public var imageMean: [Double] = [0.48145466, 0.4578275, 0.40821073]
    public var imageStd: [Double] = [0.26862954, 0.26130258, 0.27577711]
    public var doConvertRGB: Bool = true

    /// CLIP's defaults.
    public init() {}

    /// Reads `preprocessor_config.json` (or any JSON with these fields).
    public init(contentsOf url: URL) throws {
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw ImageError.unreadable(path: url.path, reason: error.localizedDescription)
        }
        do {
            self = try JSONDecoder().decode(PreprocessorConfig.self, from: data)
        } catch let error as ImageError {
            throw error
        } catch {
            throw ImageError.invalidConfiguration("\(url.lastPathComponent): \(error)")
        }
    }

    public static func == (a: Self, b: Self) -> Bool {
        a.doResize == b.doResize && a.size == b.size && a.resample == b.resample
            && a.doCenterCrop == b.doCenterCrop && a.cropSize == b.cropSize
            && a.doRescale == b.doRescale && a.rescaleFactor == b.rescaleFactor
            && a.doNormalize == b.doNormalize && a.imageMean == b.imageMean
            && a.imageStd == b.imageStd && a.doConvertRGB == b.doConvertRGB
    }

    private enum Keys: String, CodingKey {
        case doResize = "do_resize", size, resample, doCenterCrop = "do_center_crop"
        case cropSize = "crop_size", doRescale = "do_rescale", rescaleFactor = "rescale_factor"
        case doNormalize = "do_normalize", imageMean = "image_mean", imageStd = "image_std"
        case doConvertRGB = "do_convert_rgb"
    }

    private struct SizeDict: Decodable {
        var shortest_edge: Int?
        var longest_edge: Int?
        var height: Int?
        var width: Int?
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: Keys.self)
        func value<T: Decodable>(_ key: Keys, _ fallback: T) throws -> T {
            try c.decodeIfPresent(T.self, forKey: key) ?? fallback
        }
        doResize = try value(.doResize, doResize)
        resample = try value(.resample, resample)
        doCenterCrop = try value(.doCenterCrop, doCenterCrop)
        doRescale = try value(.doRescale, doRescale)
        rescaleFactor = try value(.rescaleFactor, rescaleFactor)
        doNormalize = try value(.doNormalize, doNormalize)
        doConvertRGB = try value(.doConvertRGB, doConvertRGB)
        imageMean = try Self.perChannel(c, .imageMean) ?? imageMean
        imageStd = try Self.perChannel(c, .imageStd) ?? imageStd

        if let edge = try? c.decodeIfPresent(Int.self, forKey: .size) {
            size = .shortestEdge(edge)
        } else if let dict = try c.decodeIfPresent(SizeDict.self, forKey: .size) {
            switch (dict.shortest_edge, dict.longest_edge, dict.height, dict.width) {
            case (let edge?, nil, _, _): size = .shortestEdge(edge)
            case (nil, nil, let h?, let w?): size = .exact(height: h, width: w)
            default:
                throw ImageError.invalidConfiguration(
                    "size must be {\"shortest_edge\": n} or {\"height\": h, \"width\": w}")
            }
        }
        if let side = try? c.decodeIfPresent(Int.self, forKey: .cropSize) {
            cropSize = (side, side)
        } else if let dict = try c.decodeIfPresent(SizeDict.self, forKey: .cropSize) {
            guard let h = dict.height, let w = dict.width else {
                throw ImageError.invalidConfiguration("crop_size must have height and width")
            }
            cropSize = (h, w)
        }
    }

    /// `image_mean` / `image_std` may be one number for all channels or one per channel.
    private static func perChannel(_ c: KeyedDecodingContainer<Keys>, _ key: Keys) throws -> [Double]? {
        if let one = try? c.decodeIfPresent(Double.self, forKey: key) { return [one, one, one] }
        return try c.decodeIfPresent([Double].self, forKey: key)
    }
}
