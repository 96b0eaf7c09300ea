import Formats

/// Q8_K (292 bytes / 256): float32 d, 256 int8, 16 int16 partial sums; ggml's runtime
/// dot-product operand (never in model files), decoded for completeness.
public enum Q8_K: BlockCodec {
    public static let type = GGMLType.Q8_K
    public static let weightsPerBlock = 256
    public static let bytesPerBlock = 292

    public static func decode(_ b: UnsafeRawBufferPointer, into y: UnsafeMutableBufferPointer<Float>) {
        let d = Float(bitPattern: b.u32(0))
        for j in 0..<256 { y[j] = d * Float(b.i8(4 + j)) }
    }
}
