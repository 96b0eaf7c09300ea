import Formats

// The vector path of mlx's affine kernel, for groups of finite weights. Same float32 operations
// per element as `Affine.quantizeFloats` (the scalar port), so the same codes, scale and bias.

extension Affine {
    /// `quantizeFloats` for `count` (a multiple of 8) finite floats at `x`: writes every one of
    /// the group's `count·bits/32` words.
    @inline(__always)
    static func quantizeFinite(_ x: UnsafePointer<Float>, count: Int, bits: Int,
                               into words: UnsafeMutableBufferPointer<UInt32>) -> (scale: Float, bias: Float) {
        let nBins = Float((1 << bits) - 1)
        let eps: Float = 1e-7
        // min/max in any order: for finite values only the sign of a zero endpoint can differ,
        // and a zero endpoint makes q0 zero (bias 0, scale ±eps) whichever zero it is.
        var lo = load8(x), hi = lo
        for i in stride(from: 8, to: count, by: 8) {
            let v = load8(x + i)
            lo = lo.replacing(with: v, where: v .< lo)
            hi = hi.replacing(with: v, where: v .> hi)
        }
        let wMin = lo.min(), wMax = hi.max()
        let mask = wMin.magnitude > wMax.magnitude
        var scale = (wMax - wMin) / nBins
        scale = scale < eps ? eps : scale
        scale = mask ? scale : -scale
        let edge = mask ? wMin : wMax
        let q0 = (edge / scale).rounded(.toNearestOrEven)
        var bias: Float = 0
        if q0 != 0 {
            scale = edge / q0
            bias = edge
        }
        // (v − bias) / scale rounded to nearest even, then clamped to [0, nBins]. Clamping to
        // [−1, nBins + 1] first (NaN to −1, as the scalar max/min turn NaN into 0) changes no
        // result and keeps the 1.5·2²³ rounding trick exact.
        let below = SIMD8<Float>(repeating: -1), above = SIMD8<Float>(repeating: nBins + 1)
        let top = Int32(nBins)
        let out = UnsafeMutableRawPointer(words.baseAddress!)
        for i in stride(from: 0, to: count, by: 8) {
            var r = (load8(x + i) - bias) / scale
            r = r.replacing(with: below, where: .!(r .>= below))
            r = r.replacing(with: above, where: r .> above)
            let q = clamp(nearestInt(r), 0, top)
            // In bounds: `words` holds count·bits/8 bytes and chunk i fills bytes [i·bits/8,
            // (i+8)·bits/8). Bytes in stream order are the little-endian words (hosts are LE).
            switch bits {
            case 8:
                out.storeBytes(of: SIMD8<UInt8>(truncatingIfNeeded: q), toByteOffset: i, as: SIMD8<UInt8>.self)
            case 4:
                let b = q.evenHalf | (q.oddHalf &<< 4)
                out.storeBytes(of: SIMD4<UInt8>(truncatingIfNeeded: b), toByteOffset: i / 2, as: SIMD4<UInt8>.self)
            case 2:
                let e = q.evenHalf, o = q.oddHalf
                let b = e.evenHalf | (o.evenHalf &<< 2) | (e.oddHalf &<< 4) | (o.oddHalf &<< 6)
                out.storeBytes(of: SIMD2<UInt8>(truncatingIfNeeded: b), toByteOffset: i / 4, as: SIMD2<UInt8>.self)
            default:  // 3, 5, 6 bits: the LSB-first stream crosses words; 8 codes fill `bits` bytes
                var acc: UInt64 = 0
                for k in 0..<8 { acc |= UInt64(UInt32(truncatingIfNeeded: q[k])) << UInt64(k * bits) }
                let base = i * bits / 8
                for k in 0..<bits {
                    out.storeBytes(of: UInt8(truncatingIfNeeded: acc >> UInt64(8 * k)), toByteOffset: base + k, as: UInt8.self)
                }
            }
        }
        return (scale, bias)
    }
}
