import Formats

/// Q6_K (210 bytes / 256): ql[128], qh[64], int8 scales[16], fp16 d; value d·scale·(q − 32).
/// Same bytes as `quantize_row_q6_K_ref` (ggml@d99724f2; formats-gguf.md §2.6-2.7).
public enum Q6_K: BlockEncoder {
    public static let type = GGMLType.Q6_K
    public static let weightsPerBlock = 256
    public static let bytesPerBlock = 210

    public static func decode(_ b: UnsafeRawBufferPointer, into y: UnsafeMutableBufferPointer<Float>) {
        let d = b.f16(208)
        for h in 0..<2 {
            for l in 0..<32 {
                let ql0 = b[64 * h + l], ql1 = b[64 * h + 32 + l], qh = b[128 + 32 * h + l]
                let q0 = Int(ql0 & 0xF) | Int(qh & 3) << 4, q1 = Int(ql1 & 0xF) | Int((qh >> 2) & 3) << 4
                let q2 = Int(ql0 >> 4) | Int((qh >> 4) & 3) << 4, q3 = Int(ql1 >> 4) | Int((qh >> 6) & 3) << 4
                let qs = SIMD4(q0, q1, q2, q3)
                for k in 0..<4 {
                    let e = 128 * h + l + 32 * k
                    y[e] = (d * Float(b.i8(192 + e / 16))) * Float(qs[k] - 32)
                }
            }
        }
    }

    public static func encode(_ x: UnsafeBufferPointer<Float>, into y: UnsafeMutableRawBufferPointer) {
        precondition(x.count == 256, "one block of 256 weights")
        if allFinite(x.baseAddress!, 256) {
            encodeFinite(x.baseAddress!, into: y)
        } else {
            encodeReference(x, into: y)
        }
    }

    /// The vector path for a block of finite weights: the sixteen sub-blocks of 16 searched
    /// eight side by side (`makeQxQuants8`), same bytes as `encodeReference`.
    static func encodeFinite(_ xp: UnsafePointer<Float>, into y: UnsafeMutableRawBufferPointer) {
        withUnsafeTemporaryAllocation(of: SIMD8<Float>.self, capacity: 16 + 2) { fv in
            withUnsafeTemporaryAllocation(of: SIMD8<Int32>.self, capacity: 64) { lv in
                // Exactly what is used below: 16 (+ 2) and 2 · (16 + 16) vectors.
                let xt = fv.baseAddress!, Lv = lv.baseAddress!
                for half in 0..<2 {
                    let base = xp + 128 * half
                    for i in 0..<16 {  // transpose: lane k is sub-block 8·half + k
                        xt[i] = SIMD8(base[i], base[16 + i], base[32 + i], base[48 + i],
                                      base[64 + i], base[80 + i], base[96 + i], base[112 + i])
                    }
                    xt[16 + half] = makeQxQuants8(xt, Lv + 32 * half, Lv + 32 * half + 16)
                }
                UnsafeMutableRawPointer(xt + 16).withMemoryRebound(to: Float.self, capacity: 16) { scales in
                    withScratch(Int8.self, 256, 0) { L in
                        for half in 0..<2 {
                            for i in 0..<16 {
                                let l = Lv[32 * half + i]
                                for k in 0..<8 { L[128 * half + 16 * k + i] = Int8(truncatingIfNeeded: l[k]) }
                            }
                        }
                        finish(xp, into: y, L, scales: scales)
                    }
                }
            }
        }
    }

    /// The scalar port of `quantize_row_q6_K_ref` (any input, NaN/Inf included).
    static func encodeReference(_ x: UnsafeBufferPointer<Float>, into y: UnsafeMutableRawBufferPointer) {
        let xp = x.baseAddress!
        withScratch(Int8.self, 256, 0) { L in
            withScratch(Float.self, 16, 0) { scales in
                for ib in 0..<16 {
                    scales[ib] = makeQxQuants(16, 32, xp + 16 * ib, L + 16 * ib, rmseType: 1)
                }
                finish(xp, into: y, L, scales: scales)
            }
        }
    }

    /// The block scale, the 8-bit sub-block scales, the levels requantized with them, packing.
    @inline(__always)
    static func finish(_ xp: UnsafePointer<Float>, into y: UnsafeMutableRawBufferPointer,
                       _ L: UnsafeMutablePointer<Int8>, scales: UnsafePointer<Float>) {
        var maxScale: Float = 0, maxAbs: Float = 0
        for ib in 0..<16 where scales[ib].magnitude > maxAbs {
            maxAbs = scales[ib].magnitude
            maxScale = scales[ib]
        }
        if maxAbs < groupMaxEps {
            for i in 0..<210 { y[i] = 0 }
            return
        }
        let iscale = -128 / maxScale
        let D = y.setF16(208, 1 / iscale)
        for ib in 0..<16 {
            y[192 + ib] = UInt8(truncatingIfNeeded: min(127, nearestInt(iscale * scales[ib])))
        }
        for j in 0..<16 {
            let d = D * Float(Int8(bitPattern: y[192 + j]))
            if d == 0 { continue }
            // Elementwise x / d, nearest_int, clamp, + 32: the same ops per element, 8 lanes.
            for k in 0..<2 {
                let l = clamp(nearestInt(load8(xp + 16 * j + 8 * k) / d), -32, 31) &+ 32
                UnsafeMutableRawPointer(L + 16 * j + 8 * k).storeBytes(of: SIMD8<Int8>(truncatingIfNeeded: l), as: SIMD8<Int8>.self)
            }
        }
        for h in 0..<2 {
            let j = 128 * h
            for l in 0..<32 {
                let q1 = UInt8(L[j + l]) & 0xF, q2 = UInt8(L[j + l + 32]) & 0xF
                let q3 = UInt8(L[j + l + 64]) & 0xF, q4 = UInt8(L[j + l + 96]) & 0xF
                y[64 * h + l] = q1 | (q3 << 4)
                y[64 * h + l + 32] = q2 | (q4 << 4)
                y[128 + 32 * h + l] = (UInt8(L[j + l]) >> 4) | ((UInt8(L[j + l + 32]) >> 4) << 2)
                    | ((UInt8(L[j + l + 64]) >> 4) << 4) | ((UInt8(L[j + l + 96]) >> 4) << 6)
            }
        }
    }
}
