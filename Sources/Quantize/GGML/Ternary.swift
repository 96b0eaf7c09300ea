import Formats

/// C's `lroundf` (half away from zero) as used by the ternary quantizers.
@inline(__always) private func trit(_ v: Float) -> Int { roundHalfAway(v) + 1 }

/// TQ1_0 (54 bytes / 256, BitNet b1.58): base-3 packed trits (5 per qs byte, 4 per qh byte), fp16 d.
/// Same bytes as `quantize_row_tq1_0_ref` (ggml@d99724f2; formats-gguf.md §2.9).
public enum TQ1_0: BlockEncoder {
    public static let type = GGMLType.TQ1_0
    public static let weightsPerBlock = 256
    public static let bytesPerBlock = 54
    static let pow3: [UInt8] = [1, 3, 9, 27, 81, 243]

    @inline(__always) static func decodeTrit(_ byte: UInt8, _ n: Int) -> Float {
        let q = byte &* pow3[n]
        return Float(Int((UInt16(q) * 3) >> 8) - 1)
    }

    public static func decode(_ b: UnsafeRawBufferPointer, into y: UnsafeMutableBufferPointer<Float>) {
        let d = b.f16(52)
        for n in 0..<5 { for m in 0..<32 { y[32 * n + m] = decodeTrit(b[m], n) * d } }
        for n in 0..<5 { for m in 0..<16 { y[160 + 16 * n + m] = decodeTrit(b[32 + m], n) * d } }
        for n in 0..<4 { for j in 0..<4 { y[240 + 4 * n + j] = decodeTrit(b[48 + j], n) * d } }
    }

    @inline(__always) static func pack(_ q: Int) -> UInt8 {
        let q8 = UInt8(truncatingIfNeeded: q)
        return UInt8(truncatingIfNeeded: (UInt16(q8) * 256 + 242) / 243)
    }

    public static func encode(_ x: UnsafeBufferPointer<Float>, into y: UnsafeMutableRawBufferPointer) {
        var amax: Float = 0
        for v in x { amax = max(amax, v.magnitude) }
        let d = amax
        let id: Float = d != 0 ? 1 / d : 0
        y.setF16(52, d)
        for m in 0..<32 {
            var q = 0
            for n in 0..<5 { q = q * 3 + trit(x[m + 32 * n] * id) }
            y[m] = pack(q)
        }
        for m in 0..<16 {
            var q = 0
            for n in 0..<5 { q = q * 3 + trit(x[160 + m + 16 * n] * id) }
            y[32 + m] = pack(q)
        }
        for j in 0..<4 {
            var q = 0
            for m in 0..<4 { q = q * 3 + trit(x[240 + j + 4 * m] * id) }
            y[48 + j] = pack(q * 3)
        }
    }
}

/// TQ2_0 (66 bytes / 256): 2-bit trits (q − 1 ∈ {−1, 0, 1}), fp16 d.
/// Same bytes as `quantize_row_tq2_0_ref` (ggml@d99724f2; formats-gguf.md §2.9).
public enum TQ2_0: BlockEncoder {
    public static let type = GGMLType.TQ2_0
    public static let weightsPerBlock = 256
    public static let bytesPerBlock = 66

    public static func decode(_ b: UnsafeRawBufferPointer, into y: UnsafeMutableBufferPointer<Float>) {
        let d = b.f16(64)
        for c in 0..<2 {
            for l in 0..<4 {
                for m in 0..<32 {
                    let q = Int((b[32 * c + m] >> UInt8(2 * l)) & 3)
                    y[128 * c + 32 * l + m] = Float(q - 1) * d
                }
            }
        }
    }

    public static func encode(_ x: UnsafeBufferPointer<Float>, into y: UnsafeMutableRawBufferPointer) {
        var amax: Float = 0
        for v in x { amax = max(amax, v.magnitude) }
        let d = amax
        let id: Float = d != 0 ? 1 / d : 0
        y.setF16(64, d)
        for c in 0..<2 {
            for m in 0..<32 {
                var q = 0
                for n in 0..<4 { q += (trit(x[128 * c + m + 32 * n] * id) & 3) << (2 * n) }
                y[32 * c + m] = UInt8(truncatingIfNeeded: q)
            }
        }
    }
}
