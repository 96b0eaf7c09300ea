import Formats

/// Q2_0 (18 bytes / 64, new in 2026 ggml): fp16 d = max |x|, 2-bit codes {−1, 0, +1, +2}·d.
/// Same bytes as `quantize_row_q2_0_ref` (ggml@d99724f2; formats-gguf.md §2.10).
public enum Q2_0: BlockEncoder {
    public static let type = GGMLType.Q2_0
    public static let weightsPerBlock = 64
    public static let bytesPerBlock = 18

    public static func decode(_ b: UnsafeRawBufferPointer, into y: UnsafeMutableBufferPointer<Float>) {
        let d = b.f16(0)
        for j in 0..<64 { y[j] = Float(Int((b[2 + j / 4] >> UInt8(2 * (j % 4))) & 3) - 1) * d }
    }

    public static func encode(_ x: UnsafeBufferPointer<Float>, into y: UnsafeMutableRawBufferPointer) {
        var amax: Float = 0
        for v in x where v.magnitude > amax { amax = v.magnitude }
        let d = amax
        let id: Float = d > 0 ? 1 / d : 0
        y.setF16(0, d)
        for j in 0..<64 {
            let q = min(3, max(0, roundHalfAway(x[j] * id) + 1))
            y[2 + j / 4] |= UInt8(q) << UInt8(2 * (j % 4))
        }
    }
}
