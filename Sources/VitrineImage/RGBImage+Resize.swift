extension RGBImage {
    /// Coefficient tables shared by display resizes (thumbnails come in a few widths).
    private static let displayCache = ResampleCoefficientCache()

    /// This image resampled to exactly `width`×`height` with Pillow's fixed-point filter (as
    /// `Image.resize`), for display uses such as thumbnails. Nil when a target side is not positive.
    public func resized(width: Int, height: Int, filter: ResampleFilter = .bicubic) -> RGBImage? {
        guard width > 0, height > 0 else { return nil }
        return PillowResample.resize(self, width: width, height: height, filter: filter, cache: Self.displayCache)
    }
}
