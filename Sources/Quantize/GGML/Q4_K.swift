import Formats

/// Q4_K (144 bytes / 256): fp16 d, dmin, 12 bytes of 6-bit scales/mins, qs[128] nibbles.
/// Same bytes as `quantize_row_q4_K_ref` (ggml@d99724f2; formats-gguf.md §2.6-2.7).
public enum Q4_K: BlockEncoder {
    public static let type = GGMLType.Q4_K
    public static let weightsPerBlock = 256
    public static let bytesPerBlock = 144

    public static func decode(_ b: UnsafeRawBufferPointer, into y: UnsafeMutableBufferPointer<Float>) {
        let d = b.f16(0), dmin = b.f16(2)
        for j in 0..<8 {
            let (sc, m) = scaleMinK4(j, b, 4)
            let d1 = d * Float(sc), m1 = dmin * Float(m)
            let chunk = j / 2, high = j % 2 == 1
            for l in 0..<32 {
                let byte = b[16 + 32 * chunk + l]
                let q = high ? byte >> 4 : byte & 0xF
                y[32 * j + l] = d1 * Float(q) - m1
            }
        }
    }

    public static func encode(_ x: UnsafeBufferPointer<Float>, into y: UnsafeMutableRawBufferPointer) {
        KQuant45.encode(x, into: y, nmax: 15, rmin: -1, nstep: 20)
    }
}

/// Shared Q4_K / Q5_K quantizer body (they differ in nmax, rmin, nstep and the packing).
enum KQuant45 {
    static func encode(_ x: UnsafeBufferPointer<Float>, into y: UnsafeMutableRawBufferPointer,
                       nmax: Int, rmin: Float, nstep: Int) {
        precondition(x.count == 256, "one block of 256 weights")
        let xp = x.baseAddress!
        if allFinite(xp, 256) {
            encodeFinite(xp, into: y, nmax: nmax, rmin: rmin, nstep: nstep)
        } else {
            encodeReference(x, into: y, nmax: nmax, rmin: rmin, nstep: nstep)
        }
    }

    /// The vector path for a block of finite weights: the eight sub-blocks of 32 searched side
    /// by side (`makeQkx2Quants8`), same bytes as `encodeReference`.
    static func encodeFinite(_ xp: UnsafePointer<Float>, into y: UnsafeMutableRawBufferPointer,
                             nmax: Int, rmin: Float, nstep: Int) {
        withUnsafeTemporaryAllocation(of: SIMD8<Float>.self, capacity: 64 + 2) { fv in
            withUnsafeTemporaryAllocation(of: SIMD8<Int32>.self, capacity: 64) { lv in
                // Both buffers hold exactly what is used below: 32 + 32 (+ 2) and 32 + 32 vectors.
                let xt = fv.baseAddress!, wt = xt + 32, out = xt + 64
                let Lv = lv.baseAddress!, Laux = Lv + 32
                for i in 0..<32 {  // transpose: lane j is sub-block j
                    xt[i] = SIMD8(xp[i], xp[32 + i], xp[64 + i], xp[96 + i],
                                  xp[128 + i], xp[160 + i], xp[192 + i], xp[224 + i])
                }
                var sumX2 = SIMD8<Float>(repeating: 0)
                for i in 0..<32 { sumX2 += xt[i] * xt[i] }
                let avX = (sumX2 / 32).squareRoot()
                for i in 0..<32 { wt[i] = avX + magnitude(xt[i]) }
                let (scales, mins) = makeQkx2Quants8(xt, wt, Lv, Laux, nmax: Int32(nmax), rmin: rmin,
                                                     rdelta: 0.1, nstep: nstep)
                out[0] = scales
                out[1] = mins
                UnsafeMutableRawPointer(out).withMemoryRebound(to: Float.self, capacity: 16) { sm in
                    withScratch(UInt8.self, 256, 0) { L in
                        for i in 0..<32 {
                            let l = Lv[i]
                            for j in 0..<8 { L[32 * j + i] = UInt8(truncatingIfNeeded: l[j]) }
                        }
                        finish(xp, into: y, L, scales: sm, mins: sm + 8, nmax: nmax)
                    }
                }
            }
        }
    }

    /// The scalar port of `quantize_row_q4_K_ref` / `q5_K` (any input, NaN/Inf included).
    static func encodeReference(_ x: UnsafeBufferPointer<Float>, into y: UnsafeMutableRawBufferPointer,
                                nmax: Int, rmin: Float, nstep: Int) {
        let xp = x.baseAddress!
        withScratch(UInt8.self, 256 + 32, 0) { L in
            let Laux = L + 256
            withScratch(Float.self, 32 + 8 + 8, 0) { f in
                let weights = f, mins = f + 32, scales = f + 40
                for j in 0..<8 {
                    var sumX2: Float = 0
                    for l in 0..<32 { sumX2 += xp[32 * j + l] * xp[32 * j + l] }
                    let avX = (sumX2 / 32).squareRoot()
                    for l in 0..<32 { weights[l] = avX + xp[32 * j + l].magnitude }
                    scales[j] = makeQkx2Quants(32, nmax, xp + 32 * j, weights, L + 32 * j, &mins[j], Laux,
                                               rmin: rmin, rdelta: 0.1, nstep: nstep, useMad: false)
                }
                finish(xp, into: y, L, scales: scales, mins: mins, nmax: nmax)
            }
        }
    }

    /// Scales/mins to 6 bits, the levels requantized with them, and the packing.
    @inline(__always)
    static func finish(_ xp: UnsafePointer<Float>, into y: UnsafeMutableRawBufferPointer, _ L: UnsafeMutablePointer<UInt8>,
                       scales: UnsafePointer<Float>, mins: UnsafePointer<Float>, nmax: Int) {
        var maxScale: Float = 0, maxMin: Float = 0
        for j in 0..<8 {
            if scales[j] > maxScale { maxScale = scales[j] }
            if mins[j] > maxMin { maxMin = mins[j] }
        }
        let invScale: Float = maxScale > 0 ? 63 / maxScale : 0
        let invMin: Float = maxMin > 0 ? 63 / maxMin : 0
        for j in 0..<8 {
            let ls = min(63, UInt8(truncatingIfNeeded: nearestInt(invScale * scales[j])))
            let lm = min(63, UInt8(truncatingIfNeeded: nearestInt(invMin * mins[j])))
            if j < 4 {
                y[4 + j] = ls
                y[4 + j + 4] = lm
            } else {
                y[4 + j + 4] = (ls & 0xF) | ((lm & 0xF) << 4)
                y[4 + j - 4] |= (ls >> 4) << 6
                y[4 + j] |= (lm >> 4) << 6
            }
        }
        let D = y.setF16(0, maxScale / 63)
        let M = y.setF16(2, maxMin / 63)
        let r = UnsafeRawBufferPointer(y)
        for j in 0..<8 {
            let (sc, m) = scaleMinK4(j, r, 4)
            let d = D * Float(sc)
            if d == 0 { continue }
            let dm = M * Float(m)
            // Elementwise (x + dm) / d, nearest_int, clamp: four lanes of 8, same ops per element.
            for k in 0..<4 {
                let v = UnsafeRawPointer(xp + 32 * j + 8 * k).loadUnaligned(as: SIMD8<Float>.self)
                let l = clamp(nearestInt((v + dm) / d), 0, Int32(nmax))
                UnsafeMutableRawPointer(L + 32 * j + 8 * k).storeBytes(
                    of: SIMD8<UInt8>(truncatingIfNeeded: l), as: SIMD8<UInt8>.self)
            }
        }
        if nmax == 15 {
            for c in 0..<4 {
                for l in 0..<32 { y[16 + 32 * c + l] = L[64 * c + l] | (L[64 * c + l + 32] << 4) }
            }
        } else {
            for l in 0..<32 { y[16 + l] = 0 }
            var m1: UInt8 = 1, m2: UInt8 = 2
            for c in 0..<4 {
                for j in 0..<32 {
                    var l1 = L[64 * c + j], l2 = L[64 * c + j + 32]
                    if l1 > 15 { l1 -= 16; y[16 + j] |= m1 }
                    if l2 > 15 { l2 -= 16; y[16 + j] |= m2 }
                    y[48 + 32 * c + j] = l1 | (l2 << 4)
                }
                m1 <<= 2
                m2 <<= 2
            }
        }
    }
}
