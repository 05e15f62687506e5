/// Conversions of 16-bit floating-point storage to `Float`.
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
}
