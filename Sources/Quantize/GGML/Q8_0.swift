import Formats

// The 32-element blocks (formats-gguf.md §2.4), ports of `quantize_row_q*_ref` and
// `dequantize_row_q*` in ggml-quants.c (ggml@d99724f2); gguf-py's quantize gives the same bytes.

/// Q8_0: fp16 d, 32 int8; value q·d.
public enum Q8_0: BlockEncoder {
    public static let type = GGMLType.Q8_0
    public static let weightsPerBlock = 32
    public static let bytesPerBlock = 34

    public static func decode(_ b: UnsafeRawBufferPointer, into y: UnsafeMutableBufferPointer<Float>) {
        let d = b.f16(0)
        for j in 0..<32 { y[j] = d * Float(b.i8(2 + j)) }
    }

    public static func encode(_ x: UnsafeBufferPointer<Float>, into y: UnsafeMutableRawBufferPointer) {
        var amax: Float = 0
        for v in x { amax = Swift.max(amax, v.magnitude) }
        let d = amax / 127
        let id: Float = d != 0 ? 1 / d : 0
        y.setF16(0, d)
        for j in 0..<32 { y[2 + j] = UInt8(truncatingIfNeeded: Int8(truncatingIfNeeded: roundHalfAway(x[j] * id))) }
    }
}
