import Formats

/// ggml's `kvalues_iq4nl`: the 16 non-linear levels of IQ4_NL / IQ4_XS.
let kvaluesIQ4NL: [Int8] = [-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113]

/// `best_index_int8(16, kvalues_iq4nl, x)`: the nearest level (ties to the upper one).
@inline(__always) func bestIndexIQ4(_ x: Float) -> UInt8 {
    kvaluesIQ4NL.withUnsafeBufferPointer { k in
        if x <= Float(k[0]) { return 0 }
        if x >= Float(k[15]) { return 15 }
        var ml = 0, mu = 15
        while mu - ml > 1 {
            let mav = (ml + mu) / 2
            if x < Float(k[mav]) { mu = mav } else { ml = mav }
        }
        return x - Float(k[mu - 1]) < Float(k[mu]) - x ? UInt8(mu - 1) : UInt8(mu)
    }
}

/// `quantize_row_iq4_nl_impl` for one 32-weight sub-block with ntry = 7 and no imatrix (what
/// llama-quantize runs); returns the sub-block scale and leaves its levels in `L`.
func iq4SubBlockScale(_ xb: UnsafePointer<Float>, _ L: UnsafeMutablePointer<UInt8>) -> Float {
    let ntry = 7
    var amax: Float = 0, max: Float = 0
    for j in 0..<32 where xb[j].magnitude > amax {
        amax = xb[j].magnitude
        max = xb[j]
    }
    if amax < groupMaxEps { return 0 }
    return kvaluesIQ4NL.withUnsafeBufferPointer { k in
        let k0 = Float(k[0])
        var d = -max / k0
        var id = 1 / d
        var sumqx: Float = 0, sumq2: Float = 0
        for j in 0..<32 {
            let l = bestIndexIQ4(id * xb[j])
            L[j] = l
            let q = Float(k[Int(l)]), w = xb[j] * xb[j]
            sumqx += w * q * xb[j]
            sumq2 += w * q * q
        }
        d = sumq2 > 0 ? sumqx / sumq2 : 0
        var best = d * sumqx
        for itry in -ntry...ntry {
            id = (Float(itry) + k0) / max
            sumqx = 0
            sumq2 = 0
            for j in 0..<32 {
                let q = Float(k[Int(bestIndexIQ4(id * xb[j]))]), w = xb[j] * xb[j]
                sumqx += w * q * xb[j]
                sumq2 += w * q * q
            }
            if sumq2 > 0 && sumqx * sumqx > best * sumq2 {
                d = sumqx / sumq2
                best = d * sumqx
            }
        }
        return d
    }
}

/// IQ4_NL (18 bytes / 32): fp16 d, 16 bytes of nibbles indexing `kvalues_iq4nl`.
/// Encodes like ggml's `quantize_iq4_nl` without imatrix (ntry = 7; formats-gguf.md §2.8).
public enum IQ4_NL: BlockEncoder {
    public static let type = GGMLType.IQ4_NL
    public static let weightsPerBlock = 32
    public static let bytesPerBlock = 18

    public static func decode(_ b: UnsafeRawBufferPointer, into y: UnsafeMutableBufferPointer<Float>) {
        let d = b.f16(0)
        for j in 0..<16 {
            y[j] = d * Float(kvaluesIQ4NL[Int(b[2 + j] & 0xF)])
            y[j + 16] = d * Float(kvaluesIQ4NL[Int(b[2 + j] >> 4)])
        }
    }

    public static func encode(_ x: UnsafeBufferPointer<Float>, into y: UnsafeMutableRawBufferPointer) {
        let xp = x.baseAddress!
        withScratch(UInt8.self, 32, 0) { L in
            let scale = iq4SubBlockScale(xp, L)
            y.setF16(0, scale)
            let id: Float = scale != 0 ? 1 / scale : 0
            for j in 0..<32 { L[j] = bestIndexIQ4(id * xp[j]) }
            for j in 0..<16 { y[2 + j] = L[j] | (L[j + 16] << 4) }
        }
    }
}

/// IQ4_XS (136 bytes / 256): fp16 d, u16 scales_h, scales_l[4], qs[128]; 8 sub-blocks of 32 with
/// 6-bit scales. Encodes like ggml's `quantize_iq4_xs` without imatrix (formats-gguf.md §2.8).
public enum IQ4_XS: BlockEncoder {
    public static let type = GGMLType.IQ4_XS
    public static let weightsPerBlock = 256
    public static let bytesPerBlock = 136

    public static func decode(_ b: UnsafeRawBufferPointer, into y: UnsafeMutableBufferPointer<Float>) {
        let d = b.f16(0), scalesH = b.u16(2)
        for ib in 0..<8 {
            let low = Int((b[4 + ib / 2] >> UInt8(4 * (ib % 2))) & 0xF)
            let high = Int((scalesH >> UInt16(2 * ib)) & 3)
            let dl = d * Float((low | high << 4) - 32)
            for j in 0..<16 {
                let q = b[8 + 16 * ib + j]
                y[32 * ib + j] = dl * Float(kvaluesIQ4NL[Int(q & 0xF)])
                y[32 * ib + j + 16] = dl * Float(kvaluesIQ4NL[Int(q >> 4)])
            }
        }
    }

    public static func encode(_ x: UnsafeBufferPointer<Float>, into y: UnsafeMutableRawBufferPointer) {
        let xp = x.baseAddress!
        withScratch(UInt8.self, 256, 0) { L in
            withScratch(Float.self, 8, 0) { scales in
                var maxScale: Float = 0, amaxScale: Float = 0
                for ib in 0..<8 {
                    scales[ib] = iq4SubBlockScale(xp + 32 * ib, L + 32 * ib)
                    if scales[ib].magnitude > amaxScale {
                        amaxScale = scales[ib].magnitude
                        maxScale = scales[ib]
                    }
                }
                let d = -maxScale / 32
                y.setF16(0, d)
                let id: Float = d != 0 ? 1 / d : 0
                var scalesH: UInt16 = 0
                for ib in 0..<8 {
                    var l = nearestInt(id * scales[ib])
                    l = max(-32, min(31, l))
                    let dl = d * Float(l)
                    let idl: Float = dl != 0 ? 1 / dl : 0
                    for j in 0..<32 { L[32 * ib + j] = bestIndexIQ4(idl * xp[32 * ib + j]) }
                    l += 32
                    let lLow = UInt8(l & 0xF), lHigh = UInt16(l >> 4)
                    if ib % 2 == 0 { y[4 + ib / 2] = lLow } else { y[4 + ib / 2] |= lLow << 4 }
                    scalesH |= lHigh << UInt16(2 * ib)
                }
                y.setU16(2, scalesH)
                for i in 0..<8 {
                    for j in 0..<16 { y[8 + 16 * i + j] = L[32 * i + j] | (L[32 * i + 16 + j] << 4) }
                }
            }
        }
    }
}
