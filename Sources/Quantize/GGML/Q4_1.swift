import Formats

// The 32-element blocks (formats-gguf.md §2.4), ports of `quantize_row_q*_ref` and
// `dequantize_row_q*` in ggml-quants.c (ggml@d99724f2); gguf-py's quantize gives the same bytes.

/// Q4_1: fp16 d and m, 16 bytes of nibbles; value q·d + m.
public enum Q4_1: BlockEncoder {
    public static let type = GGMLType.Q4_1
    public static let weightsPerBlock = 32
    public static let bytesPerBlock = 20

    public static func decode(_ b: UnsafeRawBufferPointer, into y: UnsafeMutableBufferPointer<Float>) {
        let d = b.f16(0), m = b.f16(2)
        for j in 0..<16 {
            let q = b[4 + j]
            y[j] = d * Float(q & 0xF) + m
            y[j + 16] = d * Float(q >> 4) + m
        }
    }

    public static func encode(_ x: UnsafeBufferPointer<Float>, into y: UnsafeMutableRawBufferPointer) {
        var lo = Float.greatestFiniteMagnitude, hi = -Float.greatestFiniteMagnitude
        for v in x {
            if v < lo { lo = v }
            if v > hi { hi = v }
        }
        let d = (hi - lo) / 15
        let id: Float = d != 0 ? 1 / d : 0
        y.setF16(0, d)
        y.setF16(2, lo)
        for j in 0..<16 {
            let q0 = min(15, Int(Int8(truncatingIfNeeded: truncToInt((x[j] - lo) * id + 0.5))))
            let q1 = min(15, Int(Int8(truncatingIfNeeded: truncToInt((x[j + 16] - lo) * id + 0.5))))
            y[4 + j] = UInt8(truncatingIfNeeded: q0) | UInt8(truncatingIfNeeded: q1) << 4
        }
    }
}
