import Formats

// The 32-element blocks (formats-gguf.md §2.4), ports of `quantize_row_q*_ref` and
// `dequantize_row_q*` in ggml-quants.c (ggml@d99724f2); gguf-py's quantize gives the same bytes.

/// Q4_0: fp16 d, 16 bytes of nibbles; value (q − 8)·d.
public enum Q4_0: BlockEncoder, FiniteBlockEncoder {
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
        precondition(x.count == 32 && y.count == 18, "one block of 32 weights")
        if allFinite(x.baseAddress!, 32) {
            encodeFinite(x.baseAddress!, into: y.baseAddress!)
        } else {
            encodeReference(x, into: y)
        }
    }

    /// The vector path for 32 finite weights at `p` into the 18 bytes at `y`; same bytes as
    /// `encodeReference`.
    @inline(__always) static func encodeFinite(_ p: UnsafePointer<Float>, into y: UnsafeMutableRawPointer) {
        let m = absMaxBits32(p)
        var max: Float = 0  // signedAbsMax: the first element of largest |x|; +0 for an all-zero block
        if m != 0 {
            for i in 0..<32 where p[i].bitPattern & 0x7fff_ffff == m {
                max = p[i]
                break
            }
        }
        let d = max / -8
        let id: Float = d != 0 ? 1 / d : 0
        guard id.isFinite else {  // a subnormal d: 1/d overflows; the scalar port's path for inf·x
            let out = UnsafeMutableRawBufferPointer(start: y, count: 18)
            out.initializeMemory(as: UInt8.self, repeating: 0)
            return encodeReference(UnsafeBufferPointer(start: p, count: 32), into: out)
        }
        y.storeBytes(of: Half.fromFloat(d).littleEndian, as: UInt16.self)
        // x·id + 8.5 lies in [0, 17) for finite x, so C's truncation is floor there.
        let a0 = clamp(floorNonNegative(load8(p) * id + 8.5), 0, 15)
        let a1 = clamp(floorNonNegative(load8(p + 8) * id + 8.5), 0, 15)
        let b0 = clamp(floorNonNegative(load8(p + 16) * id + 8.5), 0, 15)
        let b1 = clamp(floorNonNegative(load8(p + 24) * id + 8.5), 0, 15)
        y.storeBytes(of: SIMD8<UInt8>(truncatingIfNeeded: a0 | (b0 &<< 4)), toByteOffset: 2, as: SIMD8<UInt8>.self)
        y.storeBytes(of: SIMD8<UInt8>(truncatingIfNeeded: a1 | (b1 &<< 4)), toByteOffset: 10, as: SIMD8<UInt8>.self)
    }

    /// Sixteen consecutive blocks at `p` into the 16·18 bytes at `y`, the same bytes as
    /// `encodeReference` on each; false, with nothing written, when one holds NaN or ±Inf.
    /// The per-block scalars (signed max, d, 1/d, fp16 d) are computed with the block index in
    /// the lanes, then each block's codes 16 weights at a time.
    @inline(__always)
    static func encode16(_ p: UnsafePointer<Float>, into y: UnsafeMutableRawPointer) -> Bool {
        // The largest magnitude among x ≥ +0 and among x ≤ −0 (0 where a side is empty), from
        // the largest bits read as Int32 and read as UInt32.
        let s = blockMax16(SignedBitsMax.self, p), u = blockMax16(UnsignedBitsMax.self, p)
        let pos = s & ~signMask(s), neg = u & signMask(u) & 0x7fff_ffff
        // NaN or Inf on either side is a magnitude of at least 0x7f80_0000.
        if anyNegative(MagnitudeMax.max(pos, neg) &+ 0x0080_0000) { return false }
        // ggml keeps the first element of largest |x| (strict `>`): the negative side wins only
        // when its magnitude is strictly larger, and an all-zero block keeps +0.
        let negWins = signMask(pos &- neg)  // −1 where neg > pos (both finite: no overflow)
        var maxBits = ((neg | Int32.min) & negWins) | (pos & ~negWins)
        // +a and −a both at the largest magnitude a > 0: which comes first is a scalar question.
        let differ = pos ^ neg
        let tie = ~signMask(differ | (0 &- differ)) & ~signMask(pos &- 1)
        if anyNegative(tie) {
            for b in 0..<16 where tie[blockLane(b)] != 0 {
                let x = p + 32 * b, lane = blockLane(b)
                for i in 0..<32 where x[i].bitPattern & 0x7fff_ffff == UInt32(pos[lane]) {
                    maxBits[lane] = Int32(bitPattern: x[i].bitPattern)
                    break
                }
            }
        }
        let d = unsafeBitCast(maxBits, to: SIMD16<Float>.self) / -8
        let id = inverseOrZero(d)
        let h = halfBits(d)
        for b in 0..<16 {
            // In bounds: the caller hands 16 whole blocks, 512 floats at p and 288 bytes at y.
            let x = p + 32 * b, out = y + 18 * b
            let scale = SIMD16<Float>(repeating: id[blockLane(b)])
            out.storeBytes(of: h[blockLane(b)].littleEndian, as: UInt16.self)
            let lo = nibble(load16(x) * scale + 8.5), hi = nibble(load16(x + 16) * scale + 8.5)
            out.storeBytes(of: lowBytes(lo | (hi &<< 4)), toByteOffset: 2,
                           as: SIMD16<UInt8>.self)
        }
        reencodeOverflowing(id, p, into: y)
        return true
    }

    /// The scalar port of `quantize_row_q4_0_ref` (any input, NaN/Inf included).
    static func encodeReference(_ x: UnsafeBufferPointer<Float>, into y: UnsafeMutableRawBufferPointer) {
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

/// ⌊v⌋ on every lane, for 0 ≤ v < 2²²: round to nearest through 1.5·2²³, then one down where
/// that rounded up (v − r is exact, negative exactly then, and +0 when equal).
@inline(__always) func floorNonNegative(_ v: SIMD8<Float>) -> SIMD8<Int32> {
    let big = v + 12582912.0
    let n = unsafeBitCast(big, to: SIMD8<Int32>.self) & 0x007f_ffff &- 0x0040_0000
    return n &+ (unsafeBitCast(v - (big - 12582912.0), to: SIMD8<Int32>.self) &>> 31)
}

/// min(15, ⌊v⌋) on every lane in the low 4 bits, for 0 ≤ v < 2²² (C's `MIN(15, (int8_t)v)` for
/// the x·id + 8.5 of a finite block, which lies in (0, 17)): ⌊v⌋ + 2²³ is exact, so its bits are
/// 0x4B00_0000 + ⌊v⌋; the bits above the low byte are dropped when narrowed to bytes.
@inline(__always) func nibble(_ v: SIMD16<Float>) -> SIMD16<Int32> {
    let q = unsafeBitCast(v.rounded(.down) + 8388608, to: SIMD16<Int32>.self)
    let cap = SIMD16<Int32>(repeating: 0x4B00_000F)
    return q.replacing(with: cap, where: q .> cap)
}
