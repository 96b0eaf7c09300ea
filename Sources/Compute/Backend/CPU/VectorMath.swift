#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Vectorized transcendental functions for the CPU kernels.
///
/// `exp` is Cephes' `expf` (range reduction by ln 2 split in two constants, degree-6
/// polynomial, ≤ 2 ulp on normal results) on 8 lanes. Every element goes through the same
/// lane code, including the tail of a tile (padded), so a value never depends on where a
/// tile boundary falls: fused and unfused kernels stay bit-identical.
enum VectorMath {
    typealias V = SIMD8<Float>

    @inline(__always)
    static func exp(_ x0: V) -> V {
        let hi = V(repeating: 88.72283), lo = V(repeating: -87.33654)
        // NaN lanes compute exp(0) and are restored below: no NaN reaches the Int32 conversion.
        let x = x0.replacing(with: 0, where: x0 .!= x0).clamped(lowerBound: lo, upperBound: hi)
        let n = (x * 1.44269504088896341 + 0.5).rounded(.down)
        var r = x - n * 0.693359375
        r = r + n * 2.12194440e-4
        var p = V(repeating: 1.9875691500e-4)
        p = p * r + 1.3981999507e-3
        p = p * r + 8.3334519073e-3
        p = p * r + 4.1665795894e-2
        p = p * r + 1.6666665459e-1
        p = p * r + 5.0000001201e-1
        let e = p * (r * r) + r + 1
        // 2^n from its exponent bits; n = 128 (x near 88.72) is split as 2^127 · 2.
        let nc = n.replacing(with: 127, where: n .> 127)
        let bits = (SIMD8<Int32>(nc, rounding: .towardZero) &+ 127) &<< 23
        var out = e * unsafeBitCast(bits, to: V.self)
        out.replace(with: out * 2, where: n .> 127)
        out.replace(with: V(repeating: .infinity), where: x0 .> hi)
        out.replace(with: V(repeating: 0), where: x0 .< lo)
        out.replace(with: x0, where: x0 .!= x0)  // NaN stays NaN
        return out
    }

    /// Applies `f` to `n` floats, 8 at a time; the tail is padded into one vector.
    @inline(__always)
    static func apply(
        _ d: UnsafeMutablePointer<Float>, _ a: UnsafePointer<Float>, _ n: Int, _ f: (V) -> V
    ) {
        var i = 0
        while i + 8 <= n {
            let v = UnsafeRawPointer(a + i).loadUnaligned(as: V.self)
            UnsafeMutableRawPointer(d + i).storeBytes(of: f(v), as: V.self)
            i += 8
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

    static func silu(_ d: UnsafeMutablePointer<Float>, _ a: UnsafePointer<Float>, _ n: Int) {
        apply(d, a, n) { $0 / (1 + exp(-$0)) }
    }

    static func sigmoid(_ d: UnsafeMutablePointer<Float>, _ a: UnsafePointer<Float>, _ n: Int) {
        apply(d, a, n) { 1 / (1 + exp(-$0)) }
    }

    /// `exp(a[i] - shift)` into `d`.
    static func expShifted(
        _ d: UnsafeMutablePointer<Float>, _ a: UnsafePointer<Float>, _ n: Int, _ shift: Float
    ) {
        apply(d, a, n) { exp($0 - shift) }
    }
}
