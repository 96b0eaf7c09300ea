#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Vectorized transcendental functions for the CPU kernels.
///
/// `exp` is Cephes' `expf` (range reduction by ln 2 split in two constants, degree-6
/// polynomial, ≤ 2 ulp on normal results) on 16 lanes (one AVX-512 register). Every element goes through the same
/// lane code, including the tail of a tile (padded), so a value never depends on where a
/// tile boundary falls: fused and unfused kernels stay bit-identical.
enum VectorMath {
    typealias V = SIMD16<Float>

    @inline(__always)
    static func exp(_ x0: V) -> V {
        let hi = V(repeating: 88.72283), lo = V(repeating: -87.33654)
        // Clamped by compare-and-select (inlined; `clamped` is an out-of-line call). NaN lanes
        // stay NaN through the arithmetic (no integer conversion) and are restored below.
        var x = x0.replacing(with: hi, where: x0 .> hi)
        x.replace(with: lo, where: x0 .< lo)
        let n = floor(x * 1.44269504088896341 + 0.5)
        var r = x - n * 0.693359375
        r = r + n * 2.12194440e-4
        var p = V(repeating: 1.9875691500e-4)
        p = p * r + 1.3981999507e-3
        p = p * r + 8.3334519073e-3
        p = p * r + 4.1665795894e-2
        p = p * r + 1.6666665459e-1
        p = p * r + 5.0000001201e-1
        let e = p * (r * r) + r + 1
        // 2^n from its exponent bits; n = 128 (x near 88.72) is split as 2^127 · 2. For
        // integral n in -126 ... 127, n + 127 + 2^23 is exact and its low mantissa bits are
        // n + 127; shifting them into the exponent field drops the 2^23 bits (no int
        // conversion, which Swift's generic SIMD init does lane by lane through libm).
        let nc = n.replacing(with: 127, where: n .> 127)
        let biased = unsafeBitCast(nc + (127 + 8_388_608), to: SIMD16<UInt32>.self)
        var out = e * unsafeBitCast(biased &<< 23, to: V.self)
        out.replace(with: out * 2, where: n .> 127)
        out.replace(with: V(repeating: .infinity), where: x0 .> hi)
        out.replace(with: V(repeating: 0), where: x0 .< lo)
        out.replace(with: x0, where: x0 .!= x0)  // NaN stays NaN
        return out
    }

    /// `y` rounded down, for |y| < 2^22 (NaN-free): adding and subtracting 1.5 · 2^23 rounds
    /// to the nearest integer in SSE registers; one step down fixes the lanes rounded up.
    /// (`SIMD.rounded(.down)` becomes a libm call per lane without SSE4.1.)
    @inline(__always)
    static func floor(_ y: V) -> V {
        let magic = V(repeating: 12_582_912)
        let r = (y + magic) - magic
        return r.replacing(with: r - 1, where: r .> y)
    }

    /// Applies `f` to `n` floats, 16 at a time; the tail is padded into one vector.
    @inline(__always)
    static func apply(
        _ d: UnsafeMutablePointer<Float>, _ a: UnsafePointer<Float>, _ n: Int, _ f: (V) -> V
    ) {
        var i = 0
        while i + 16 <= n {
            let v = UnsafeRawPointer(a + i).loadUnaligned(as: V.self)
            UnsafeMutableRawPointer(d + i).storeBytes(of: f(v), as: V.self)
            i += 16
        }
        if i < n {
            var v = V(repeating: 0)
            for k in 0..<(n - i) { v[k] = a[i + k] }
            let r = f(v)
            for k in 0..<(n - i) { d[i + k] = r[k] }
        }
    }

    static func exp(_ d: UnsafeMutablePointer<Float>, _ a: UnsafePointer<Float>, _ n: Int) {
        apply(d, a, n) { exp($0) }
    }

    /// `exp(z)` for the logistic functions `1 + exp(-x)` of SiLU and sigmoid: `exp`'s
    /// polynomial with cheaper range handling, as these allow. z is clamped to [-80, 89]:
    /// below -80, 1 + e^z rounds to 1 as it does for the exact value; above 88.72, e^z
    /// overflows to ∞ on its own, since 2^n is applied as 4 · 2^(n-2) (n ≤ 128, and
    /// n - 2 ≥ -117 keeps one exponent field). n is z·log2(e) rounded to nearest, equal to
    /// `exp`'s floor(z·log2(e) + 1/2) but at exact ties; NaN passes through the arithmetic.
    /// About half the instructions of `exp`: SiLU is what a fused MLP chain spends its time on.
    @inline(__always)
    static func logisticExp(_ z0: V) -> V {
        var z = z0.replacing(with: 89, where: z0 .> 89)
        z.replace(with: -80, where: z0 .< -80)
        let magic = V(repeating: 12_582_912)
        let n = (z * 1.44269504088896341 + magic) - magic
        var r = z - n * 0.693359375
        r = r + n * 2.12194440e-4
        var p = V(repeating: 1.9875691500e-4)
        p = p * r + 1.3981999507e-3
        p = p * r + 8.3334519073e-3
        p = p * r + 4.1665795894e-2
        p = p * r + 1.6666665459e-1
        p = p * r + 5.0000001201e-1
        let e = p * (r * r) + r + 1
        let biased = unsafeBitCast(n + (125 + 8_388_608), to: SIMD16<UInt32>.self)
        return (e * 4) * unsafeBitCast(biased &<< 23, to: V.self)
    }

    /// `x / (1 + exp(-x))` or `1 / (1 + exp(-x))` over `n` floats, as `apply` pads tails.
    @inline(__always)
    static func logistic(
        _ d: UnsafeMutablePointer<Float>, _ a: UnsafePointer<Float>, _ n: Int, times x: Bool
    ) {
        var i = 0
        while i + 16 <= n {
            let v = UnsafeRawPointer(a + i).loadUnaligned(as: V.self)
            let q = (x ? v : V(repeating: 1)) / (1 + logisticExp(-v))
            UnsafeMutableRawPointer(d + i).storeBytes(of: q, as: V.self)
            i += 16
        }
        if i < n {
            var v = V(repeating: 0)
            for k in 0..<(n - i) { v[k] = a[i + k] }
            let q = (x ? v : V(repeating: 1)) / (1 + logisticExp(-v))
            for k in 0..<(n - i) { d[i + k] = q[k] }
        }
    }

    /// `x / (1 + exp(-x))` on one vector (the lanes of `silu`).
    @inline(__always)
    static func silu(_ v: V) -> V { v / (1 + logisticExp(-v)) }

    /// `1 / (1 + exp(-x))` on one vector (the lanes of `sigmoid`).
    @inline(__always)
    static func sigmoid(_ v: V) -> V { 1 / (1 + logisticExp(-v)) }

    static func silu(_ d: UnsafeMutablePointer<Float>, _ a: UnsafePointer<Float>, _ n: Int) {
        logistic(d, a, n, times: true)
    }

    static func sigmoid(_ d: UnsafeMutablePointer<Float>, _ a: UnsafePointer<Float>, _ n: Int) {
        logistic(d, a, n, times: false)
    }

    /// `exp(a[i] - shift)` into `d`.
    static func expShifted(
        _ d: UnsafeMutablePointer<Float>, _ a: UnsafePointer<Float>, _ n: Int, _ shift: Float
    ) {
        apply(d, a, n) { exp($0 - shift) }
    }
}
