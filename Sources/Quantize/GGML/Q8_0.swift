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

    /// Sixteen consecutive blocks at `p` into the 16·34 bytes at `y`, the same bytes as
    /// `encodeReference` on each; false, with nothing written, when one holds NaN or ±Inf.
    /// The per-block scalars (amax, d, 1/d, fp16 d) are computed with the block index in the
    /// lanes, then each block's codes 16 weights at a time.
    @inline(__always)
    static func encode16(_ p: UnsafePointer<Float>, into y: UnsafeMutableRawPointer) -> Bool {
        let amax = blockMax16(MagnitudeMax.self, p)
        // NaN or Inf is a magnitude of at least 0x7f80_0000.
        if anyNegative(amax &+ 0x0080_0000) { return false }
        let d = unsafeBitCast(amax, to: SIMD16<Float>.self) / 127
        let id = inverseOrZero(d)
        let h = halfBits(d)
        for b in 0..<16 {
            // In bounds: the caller hands 16 whole blocks, 512 floats at p and 544 bytes at y.
            let x = p + 32 * b, out = y + 34 * b
            let scale = SIMD16<Float>(repeating: id[blockLane(b)])
            out.storeBytes(of: h[blockLane(b)].littleEndian, as: UInt16.self)
            out.storeBytes(of: lowBytes(roundedLowBits(load16(x) * scale)),
                           toByteOffset: 2, as: SIMD16<UInt8>.self)
            out.storeBytes(of: lowBytes(roundedLowBits(load16(x + 16) * scale)),
                           toByteOffset: 18, as: SIMD16<UInt8>.self)
        }
        reencodeOverflowing(id, p, into: y)
        return true
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

/// C's `roundf` on every lane, as an integer in the low byte (two's complement), for |v| < 2²²:
/// `rounded(.toNearestOrAwayFromZero)` is the same `llvm.round` the scalar port's
/// `roundHalfAway` calls, and r + 1.5·2²³ is exact with bits 0x4B40_0000 + r, whose low byte is
/// r's (0x4B40_0000 ends in a zero byte).
@inline(__always) func roundedLowBits(_ v: SIMD16<Float>) -> SIMD16<Int32> {
    unsafeBitCast(v.rounded(.toNearestOrAwayFromZero) + 12582912, to: SIMD16<Int32>.self)
}
