import Formats

// The 32-element blocks (formats-gguf.md §2.4), ports of `quantize_row_q*_ref` and
// `dequantize_row_q*` in ggml-quants.c (ggml@d99724f2); gguf-py's quantize gives the same bytes.

/// Q5_1: fp16 d and m, u32 of fifth bits, 16 bytes of nibbles; value q·d + m.
public enum Q5_1: BlockEncoder {
    public static let type = GGMLType.Q5_1
    public static let weightsPerBlock = 32
    public static let bytesPerBlock = 24

    public static func decode(_ b: UnsafeRawBufferPointer, into y: UnsafeMutableBufferPointer<Float>) {
        let d = b.f16(0), m = b.f16(2), qh = b.u32(4)
        for j in 0..<16 {
            let q = b[8 + j]
            let h0 = Int((qh >> UInt32(j)) & 1) << 4, h1 = Int((qh >> UInt32(j + 16)) & 1) << 4
            y[j] = d * Float(Int(q & 0xF) | h0) + m
            y[j + 16] = d * Float(Int(q >> 4) | h1) + m
        }
    }

    public static func encode(_ x: UnsafeBufferPointer<Float>, into y: UnsafeMutableRawBufferPointer) {
        var lo = Float.greatestFiniteMagnitude, hi = -Float.greatestFiniteMagnitude
        for v in x {
            if v < lo { lo = v }
            if v > hi { hi = v }
        }
        let d = (hi - lo) / 31
        let id: Float = d != 0 ? 1 / d : 0
        y.setF16(0, d)
        y.setF16(2, lo)
        var qh: UInt32 = 0
        for j in 0..<16 {
            let q0 = Int(UInt8(truncatingIfNeeded: truncToInt((x[j] - lo) * id + 0.5)))
            let q1 = Int(UInt8(truncatingIfNeeded: truncToInt((x[j + 16] - lo) * id + 0.5)))
            y[8 + j] = UInt8(truncatingIfNeeded: q0 & 15) | UInt8(truncatingIfNeeded: q1 & 15) << 4
            qh |= UInt32(truncatingIfNeeded: (q0 & 0x10) >> 4) << UInt32(j)
            qh |= UInt32(truncatingIfNeeded: (q1 & 0x10) >> 4) << UInt32(j + 16)
        }
        y.setU32(4, qh)
    }
}
