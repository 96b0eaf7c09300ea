import Formats

/// Q1_0 (18 bytes / 128, new in 2026 ggml): fp16 d = mean |x|, one sign bit per weight; value ±d.
/// Same bytes as `quantize_row_q1_0_ref` (ggml@d99724f2; formats-gguf.md §2.10).
public enum Q1_0: BlockEncoder {
    public static let type = GGMLType.Q1_0
    public static let weightsPerBlock = 128
    public static let bytesPerBlock = 18

    public static func decode(_ b: UnsafeRawBufferPointer, into y: UnsafeMutableBufferPointer<Float>) {
        let d = b.f16(0), negD = -d
        for j in 0..<128 { y[j] = (b[2 + j / 8] >> UInt8(j % 8)) & 1 != 0 ? d : negD }
    }

    public static func encode(_ x: UnsafeBufferPointer<Float>, into y: UnsafeMutableRawBufferPointer) {
        var sumAbs: Float = 0
        for v in x { sumAbs += v.magnitude }
        y.setF16(0, sumAbs / 128)
        for j in 0..<128 where x[j] >= 0 { y[2 + j / 8] |= UInt8(1) << UInt8(j % 8) }
    }
}
