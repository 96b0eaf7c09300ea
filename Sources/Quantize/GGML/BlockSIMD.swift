// Vector helpers for the block quantizers. Each lane computes exactly what the scalar reference
// computes for one element (or one sub-block), with the same float32 operations in the same
// order; only independent work is spread across lanes, so the bytes stay bit-identical.
// Selections use `replacing(with: vector, where:)` and integer clamps `pointwiseMin/Max`,
// which compile to branch-free SSE (the scalar-operand `replace` and Float `pointwiseMin` do not).

/// ggml's `nearest_int` on every lane: the same bit trick as the scalar `nearestInt`, so the
/// same result for every input (including the garbage it gives beyond ±2²²).
@inline(__always) func nearestInt(_ x: SIMD8<Float>) -> SIMD8<Int32> {
    unsafeBitCast(x + 12582912.0, to: SIMD8<Int32>.self) & 0x007f_ffff &- 0x0040_0000
}

@inline(__always) func nearestInt(_ x: SIMD16<Float>) -> SIMD16<Int32> {
    unsafeBitCast(x + 12582912.0, to: SIMD16<Int32>.self) & 0x007f_ffff &- 0x0040_0000
}

/// `Float(l)` for |l| < 2²² (exact: the integer is placed in the mantissa of 1.5·2²³).
@inline(__always) func floatOf(_ l: SIMD8<Int32>) -> SIMD8<Float> {
    unsafeBitCast(l &+ 0x4B40_0000, to: SIMD8<Float>.self) - 12582912.0
}

@inline(__always) func floatOf(_ l: SIMD16<Int32>) -> SIMD16<Float> {
    unsafeBitCast(l &+ 0x4B40_0000, to: SIMD16<Float>.self) - 12582912.0
}

/// `max(lo, min(hi, v))` on every lane.
@inline(__always) func clamp(_ v: SIMD8<Int32>, _ lo: Int32, _ hi: Int32) -> SIMD8<Int32> {
    pointwiseMax(pointwiseMin(v, SIMD8(repeating: hi)), SIMD8(repeating: lo))
}

@inline(__always) func clamp(_ v: SIMD16<Int32>, _ lo: Int32, _ hi: Int32) -> SIMD16<Int32> {
    pointwiseMax(pointwiseMin(v, SIMD16(repeating: hi)), SIMD16(repeating: lo))
}

/// |x| on every lane (clears the sign bit, exactly `Float.magnitude`).
@inline(__always) func magnitude(_ x: SIMD8<Float>) -> SIMD8<Float> {
    unsafeBitCast(unsafeBitCast(x, to: SIMD8<UInt32>.self) & 0x7fff_ffff, to: SIMD8<Float>.self)
}

@inline(__always) func magnitude(_ x: SIMD16<Float>) -> SIMD16<Float> {
    unsafeBitCast(unsafeBitCast(x, to: SIMD16<UInt32>.self) & 0x7fff_ffff, to: SIMD16<Float>.self)
}

/// The 16 floats at `p` (any alignment).
@inline(__always) func load16(_ p: UnsafePointer<Float>) -> SIMD16<Float> {
    UnsafeRawPointer(p).loadUnaligned(as: SIMD16<Float>.self)
}

/// True when none of the `n` floats at `p` is NaN or ±Inf (`n` a multiple of 16: every block
/// and group size is). An all-ones exponent is the one test for both.
@inline(__always) func allFinite(_ p: UnsafePointer<Float>, _ n: Int) -> Bool {
    var exponents = SIMD16<UInt32>(repeating: 0)
    var i = 0
    while i < n {
        let e = UnsafeRawPointer(p + i).loadUnaligned(as: SIMD16<UInt32>.self) & 0x7f80_0000
        exponents = pointwiseMax(exponents, e)
        i += 16
    }
    return exponents.max() != 0x7f80_0000
}

/// The index of the first NaN/Inf among the `n` floats at `p`, if any.
@inline(__always) func firstNonFinite(_ p: UnsafePointer<Float>, _ n: Int) -> Int? {
    for i in 0..<n where !p[i].isFinite { return i }
    return nil
}
