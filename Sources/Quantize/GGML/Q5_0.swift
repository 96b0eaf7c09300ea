import Formats

// The 32-element blocks (formats-gguf.md §2.4), ports of `quantize_row_q*_ref` and
// `dequantize_row_q*` in ggml-quants.c (ggml@d99724f2); gguf-py's quantize gives the same bytes.

/// Q5_0: fp16 d, u32 of fifth bits, 16 bytes of nibbles; value (q − 16)·d.
public enum Q5_0: BlockEncoder {
    public static let type = GGMLType.Q5_0
    public static let weightsPerBlock = 32
    public static let bytesPerBlock = 22

    public static func decode(_ b: UnsafeRawBufferPointer, into y: UnsafeMutableBufferPointer<Float>) {
        let d = b.f16(0), qh = b.u32(2)
        for j in 0..<16 {
            let q = b[6 + j]
            let h0 = Int((qh >> UInt32(j)) & 1) << 4, h1 = Int((qh >> UInt32(j + 16)) & 1) << 4
            y[j] = d * Float(Int(q & 0xF) + h0 - 16)
            y[j + 16] = d * Float(Int(q >> 4) + h1 - 16)
        }
    }

    public static func encode(_ x: UnsafeBufferPointer<Float>, into y: UnsafeMutableRawBufferPointer) {
        let (_, max) = signedAbsMax(x)
        let d = max / -16
        let id: Float = d != 0 ? 1 / d : 0
        y.setF16(0, d)
        var qh: UInt32 = 0
        for j in 0..<16 {
            let q0 = min(31, Int(Int8(truncatingIfNeeded: truncToInt(x[j] * id + 16.5))))
            let q1 = min(31, Int(Int8(truncatingIfNeeded: truncToInt(x[j + 16] * id + 16.5))))
            y[6 + j] = UInt8(truncatingIfNeeded: q0 & 15) | UInt8(truncatingIfNeeded: q1 & 15) << 4
            qh |= UInt32(truncatingIfNeeded: (q0 & 0x10) >> 4) << UInt32(j)
            qh |= UInt32(truncatingIfNeeded: (q1 & 0x10) >> 4) << UInt32(j + 16)
        }
        y.setU32(2, qh)
    }
}
