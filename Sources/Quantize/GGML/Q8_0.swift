import Formats

// The 32-element blocks (formats-gguf.md §2.4), ports of `quantize_row_q*_ref` and
// `dequantize_row_q*` in ggml-quants.c (ggml@d99724f2); gguf-py's quantize gives the same bytes.

/// Q8_0: fp16 d, 32 int8; value q·d.
public enum Q8_0: BlockEncoder, FiniteBlockEncoder {
    public static let type = GGMLType.Q8_0
    public static let weightsPerBlock = 32
    public static let bytesPerBlock = 34

    public static func decode(_ b: UnsafeRawBufferPointer, into y: UnsafeMutableBufferPointer<Float>) {
        let d = b.f16(0)
        for j in 0..<32 { y[j] = d * Float(b.i8(2 + j)) }
    }

    public static func encode(_ x: UnsafeBufferPointer<Float>, into y: UnsafeMutableRawBufferPointer) {
        precondition(x.count == 32 && y.count == 34, "one block of 32 weights")
        if allFinite(x.baseAddress!, 32) {
            encodeFinite(x.baseAddress!, into: y.baseAddress!)
        } else {
            encodeReference(x, into: y)
        }
    }

    /// The vector path for 32 finite weights at `p` into the 34 bytes at `y`; same bytes as
    /// `encodeReference`.
    @inline(__always) static func encodeFinite(_ p: UnsafePointer<Float>, into y: UnsafeMutableRawPointer) {
        let amax = Float(bitPattern: absMaxBits32(p))
        let d = amax / 127
        let id: Float = d != 0 ? 1 / d : 0
        guard id.isFinite else {  // a subnormal d: 1/d overflows; the scalar port's path for inf·x
            let out = UnsafeMutableRawBufferPointer(start: y, count: 34)
            out.initializeMemory(as: UInt8.self, repeating: 0)
            return encodeReference(UnsafeBufferPointer(start: p, count: 32), into: out)
        }
        y.storeBytes(of: Half.fromFloat(d).littleEndian, as: UInt16.self)
        for k in 0..<4 {
            y.storeBytes(of: SIMD8<Int8>(truncatingIfNeeded: roundHalfAway(load8(p + 8 * k) * id)),
                         toByteOffset: 2 + 8 * k, as: SIMD8<Int8>.self)
        }
    }

    /// The scalar port of `quantize_row_q8_0_ref` (any input, NaN/Inf included).
    static func encodeReference(_ x: UnsafeBufferPointer<Float>, into y: UnsafeMutableRawBufferPointer) {
        var amax: Float = 0
        for v in x { amax = Swift.max(amax, v.magnitude) }
        let d = amax / 127
        let id: Float = d != 0 ? 1 / d : 0
        y.setF16(0, d)
        for j in 0..<32 { y[2 + j] = UInt8(truncatingIfNeeded: Int8(truncatingIfNeeded: roundHalfAway(x[j] * id))) }
    }
}

/// C's `roundf` (half away from zero) on every lane, for |v| < 2²²: |v| rounded to nearest
/// even, one up where that was a tie rounded down (|v| − t is exact there, so a tie is exactly
/// the bits of ½), then the sign. Integer ops only: the float-compare masks were seen to
/// compile to per-lane loops here.
@inline(__always) func roundHalfAway(_ v: SIMD8<Float>) -> SIMD8<Int32> {
    let m = magnitude(v)
    let big = m + 12582912.0
    let n = unsafeBitCast(big, to: SIMD8<Int32>.self) & 0x007f_ffff &- 0x0040_0000
    let e = unsafeBitCast(m - (big - 12582912.0), to: SIMD8<Int32>.self) ^ 0x3f00_0000  // 0 on a tie
    let up = ~((e | (0 &- e)) &>> 31)                                                  // −1 on a tie
    let sign = unsafeBitCast(v, to: SIMD8<Int32>.self) &>> 31                          // −1 if negative
    return ((n &- up) ^ sign) &- sign
}
