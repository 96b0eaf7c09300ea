import Formats

// The 32-element blocks (formats-gguf.md §2.4), ports of `quantize_row_q*_ref` and
// `dequantize_row_q*` in ggml-quants.c (ggml@d99724f2); gguf-py's quantize gives the same bytes.

/// Q4_0: fp16 d, 16 bytes of nibbles; value (q − 8)·d.
public enum Q4_0: BlockEncoder {
    public static let type = GGMLType.Q4_0
    public static let weightsPerBlock = 32
    public static let bytesPerBlock = 18

    public static func decode(_ b: UnsafeRawBufferPointer, into y: UnsafeMutableBufferPointer<Float>) {
        let d = b.f16(0)
        for j in 0..<16 {
            let q = b[2 + j]
            y[j] = d * Float(Int(q & 0xF) - 8)
            y[j + 16] = d * Float(Int(q >> 4) - 8)
        }
    }

    public static func encode(_ x: UnsafeBufferPointer<Float>, into y: UnsafeMutableRawBufferPointer) {
        let (_, max) = signedAbsMax(x)
        let d = max / -8
        let id: Float = d != 0 ? 1 / d : 0
        y.setF16(0, d)
        for j in 0..<16 {
            let q0 = min(15, Int(Int8(truncatingIfNeeded: truncToInt(x[j] * id + 8.5))))
            let q1 = min(15, Int(Int8(truncatingIfNeeded: truncToInt(x[j + 16] * id + 8.5))))
            y[2 + j] = UInt8(truncatingIfNeeded: q0) | UInt8(truncatingIfNeeded: q1) << 4
        }
    }
}
