// Vector helpers for the block quantizers. Each lane computes exactly what the scalar reference
// computes for one element (or one sub-block), with the same float32 operations in the same
// order; only independent work is spread across lanes, so the bytes stay bit-identical.
// Eight lanes throughout, with selections as `replacing(with: vector, where:)`: that compiles to
// branch-free SSE, while 16-lane masks of computed values, scalar-operand `replace` and
// `pointwiseMin/Max` were seen to fall back to per-lane loops or calls.

/// ggml's `nearest_int` on every lane: the same bit trick as the scalar `nearestInt`, so the
/// same result for every input (including the garbage it gives beyond ±2²²).
@inline(__always) func nearestInt(_ x: SIMD8<Float>) -> SIMD8<Int32> {
    unsafeBitCast(x + 12582912.0, to: SIMD8<Int32>.self) & 0x007f_ffff &- 0x0040_0000
}

/// `Float(l)` for |l| < 2²² (exact: the integer is placed in the mantissa of 1.5·2²³).
@inline(__always) func floatOf(_ l: SIMD8<Int32>) -> SIMD8<Float> {
    unsafeBitCast(l &+ 0x4B40_0000, to: SIMD8<Float>.self) - 12582912.0
}

/// `max(lo, min(hi, v))` on every lane, for |v| ≤ 2²³ (what `nearestInt` yields), with integer
/// ops only (a difference's sign as the mask).
@inline(__always) func clamp(_ v: SIMD8<Int32>, _ lo: Int32, _ hi: Int32) -> SIMD8<Int32> {
    let above = v &- hi
    let r = v &- (above & ~(above &>> 31))   // min(v, hi)
    let below = r &- lo
    return r &- (below & (below &>> 31))     // max(r, lo)
}

/// |x| on every lane (clears the sign bit, exactly `Float.magnitude`).
@inline(__always) func magnitude(_ x: SIMD8<Float>) -> SIMD8<Float> {
    unsafeBitCast(unsafeBitCast(x, to: SIMD8<UInt32>.self) & 0x7fff_ffff, to: SIMD8<Float>.self)
}

/// The 8 floats at `p` (any alignment).
@inline(__always) func load8(_ p: UnsafePointer<Float>) -> SIMD8<Float> {
    UnsafeRawPointer(p).loadUnaligned(as: SIMD8<Float>.self)
}

/// True when none of the `n` floats at `p` is NaN or ±Inf (`n` a multiple of 16: every block
/// and group size is). An all-ones exponent is the one test for both: adding one to the exponent
/// field carries into the sign bit exactly then.
/// The bit pattern of the largest |x| among the 32 finite floats at `p`: for finite values,
/// |x|'s bit patterns order like |x|, so the integer maximum is exact.
@inline(__always) func absMaxBits32(_ p: UnsafePointer<Float>) -> UInt32 {
    var bits = SIMD8<UInt32>(repeating: 0)
    for k in 0..<4 {
        let m = UnsafeRawPointer(p + 8 * k).loadUnaligned(as: SIMD8<UInt32>.self) & 0x7fff_ffff
        bits = bits.replacing(with: m, where: m .> bits)
    }
    return bits.max()
}

@inline(__always) func allFinite(_ p: UnsafePointer<Float>, _ n: Int) -> Bool {
    var carry = SIMD16<UInt32>(repeating: 0)
    var i = 0
    while i < n {
        carry |= (UnsafeRawPointer(p + i).loadUnaligned(as: SIMD16<UInt32>.self) & 0x7f80_0000) &+ 0x0080_0000
        i += 16
    }
    return !any(unsafeBitCast(carry, to: SIMD16<Int32>.self) .< SIMD16<Int32>(repeating: 0))
}

/// The index of the first NaN/Inf among the `n` floats at `p`, if any.
@inline(__always) func firstNonFinite(_ p: UnsafePointer<Float>, _ n: Int) -> Int? {
    for i in 0..<n where !p[i].isFinite { return i }
    return nil
}
