import CVitrineKernels

/// Conversions between `Float` and 16-bit floating-point storage.
public enum HalfPrecision {
    /// IEEE 754 binary16 bits to `Float`, exactly (every half value is a float value).
    @inlinable
    public static func float(fromFloat16Bits bits: UInt16) -> Float {
        Float(Float16(bitPattern: bits))
    }

    /// bfloat16 bits to `Float`, exactly: bfloat16 is the upper half of a binary32.
    @inlinable
    public static func float(fromBFloat16Bits bits: UInt16) -> Float {
        Float(bitPattern: UInt32(bits) << 16)
    }

    /// `Float` to binary16 bits, rounding to nearest even (as PyTorch's `.half()`).
    @inlinable
    public static func float16Bits(_ value: Float) -> UInt16 {
        Float16(value).bitPattern
    }

    /// `Float` to bfloat16 bits, rounding to nearest even on the dropped half (as PyTorch's
    /// `.bfloat16()`); NaN stays NaN.
    @inlinable
    public static func bfloat16Bits(_ value: Float) -> UInt16 {
        let bits = value.bitPattern
        if value.isNaN { return UInt16(bits >> 16) | 0x40 }
        return UInt16((bits &+ 0x7FFF &+ ((bits >> 16) & 1)) >> 16)
    }

    /// Widens `count` bfloat16 values to floats.
    public static func widen(bfloat16 source: UnsafePointer<UInt16>, into destination: UnsafeMutablePointer<Float>, count: Int) {
        ActiveKernels.table.widen_bf16!(source, destination, count)
    }
}
