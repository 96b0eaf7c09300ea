/// Float ↔ half / bfloat16 conversions, round to nearest even (formats-gguf.md §2.2).
///
/// F16 and BF16 tensors are computed in F32; every op that yields one of them rounds
/// its result through these, so the values are exactly what a 16-bit store would keep.
enum Scalars {
    /// IEEE binary16 bits of `x`, RNE; overflow gives ±inf, NaN stays NaN.
    @inline(__always)
    static func halfBits(_ x: Float) -> UInt16 { Float16(x).bitPattern }

    @inline(__always)
    static func fromHalf(_ bits: UInt16) -> Float { Float(Float16(bitPattern: bits)) }

    /// bfloat16 bits of `x`: ggml_compute_fp32_to_bf16 (RNE, quiet NaN).
    @inline(__always)
    static func bfloatBits(_ x: Float) -> UInt16 {
        let u = x.bitPattern
        if u & 0x7fff_ffff > 0x7f80_0000 { return UInt16(truncatingIfNeeded: (u >> 16) | 0x40) }
        return UInt16(truncatingIfNeeded: (u &+ 0x7fff &+ ((u >> 16) & 1)) >> 16)
    }

    @inline(__always)
    static func fromBFloat(_ bits: UInt16) -> Float { Float(bitPattern: UInt32(bits) << 16) }

    /// `x` rounded to F16 and widened back.
    @inline(__always)
    static func roundHalf(_ x: Float) -> Float { Float(Float16(x)) }

    /// `x` rounded to BF16 and widened back.
    @inline(__always)
    static func roundBFloat(_ x: Float) -> Float { fromBFloat(bfloatBits(x)) }

    /// Truncation toward zero to Int32, saturating (NaN → 0), as a cast to I32.
    @inline(__always)
    static func toInt32(_ x: Float) -> Int32 {
        if x.isNaN { return 0 }
        if x >= 2_147_483_648 { return .max }  // 2^31, the first float past Int32.max
        if x <= -2_147_483_648 { return .min }
        return Int32(x.rounded(.towardZero))
    }

    /// Rounds `n` floats at `p` in place to `dtype` (no-op for F32).
    static func round(_ p: UnsafeMutablePointer<Float>, _ n: Int, to dtype: Formats.DType) {
        switch dtype {
        case .f16: for i in 0..<n { p[i] = roundHalf(p[i]) }
        case .bf16: for i in 0..<n { p[i] = roundBFloat(p[i]) }
        default: break
        }
    }

    /// Widens `n` little-endian F16 or BF16 values at `p` to floats (anything else is read
    /// as F32 bits): what a half-precision weight becomes when a kernel needs floats.
    static func widen(
        _ p: UnsafeRawPointer, _ n: Int, from dtype: Formats.DType, into out: UnsafeMutablePointer<Float>
    ) {
        switch dtype {
        case .f16:
            for i in 0..<n {
                out[i] = fromHalf(p.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self).littleEndian)
            }
        case .bf16:
            for i in 0..<n {
                out[i] = fromBFloat(p.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self).littleEndian)
            }
        default:
            for i in 0..<n {
                out[i] = Float(bitPattern: p.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self).littleEndian)
            }
        }
    }
}

import Formats
