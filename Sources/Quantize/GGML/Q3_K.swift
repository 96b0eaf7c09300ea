import Formats

/// Q3_K (110 bytes / 256): hmask[32], qs[64] low 2 bits, 12 bytes of signed 6-bit scales, fp16 d.
/// Same bytes as `quantize_row_q3_K_ref` (ggml@d99724f2; formats-gguf.md §2.6-2.7).
public enum Q3_K: BlockEncoder {
    public static let type = GGMLType.Q3_K
    public static let weightsPerBlock = 256
    public static let bytesPerBlock = 110

    /// The signed scale of sub-block g (−32...31) from the 12 bytes at offset 96.
    @inline(__always) static func scale(_ b: UnsafeRawBufferPointer, _ g: Int) -> Int {
        let low = g < 8 ? Int(b[96 + g] & 0xF) : Int(b[96 + g - 8] >> 4)
        let high = Int((b[96 + 8 + g % 4] >> UInt8(2 * (g / 4))) & 3)
        return (low | high << 4) - 32
    }

    public static func decode(_ b: UnsafeRawBufferPointer, into y: UnsafeMutableBufferPointer<Float>) {
        let d = b.f16(108)
        for e in 0..<256 {
            let half = e / 128, r = e % 128, k = r / 32, l = r % 32
            let low = Int((b[32 + 32 * half + l] >> UInt8(2 * k)) & 3)
            let high = (b[e % 32] >> UInt8(e / 32)) & 1
            let dl = d * Float(scale(b, e / 16))
            y[e] = dl * Float(low - (high == 0 ? 4 : 0))
        }
    }

    public static func encode(_ x: UnsafeBufferPointer<Float>, into y: UnsafeMutableRawBufferPointer) {
        let xp = x.baseAddress!
        withScratch(Int8.self, 256, 0) { L in
            withScratch(Float.self, 16, 0) { scales in
                var maxScale: Float = 0, amax: Float = 0
                for j in 0..<16 {
                    scales[j] = makeQ3Quants(16, 4, xp + 16 * j, L + 16 * j)
                    if scales[j].magnitude > amax {
                        amax = scales[j].magnitude
                        maxScale = scales[j]
                    }
                }
                for i in 96..<108 { y[i] = 0 }
                if maxScale != 0 {
                    let iscale = -32 / maxScale
                    for j in 0..<16 {
                        var l = Int8(truncatingIfNeeded: nearestInt(iscale * scales[j]))
                        l = max(-32, min(31, l)) + 32
                        if j < 8 { y[96 + j] = UInt8(l & 0xF) } else { y[96 + j - 8] |= UInt8(l & 0xF) << 4 }
                        l >>= 4
                        y[96 + 8 + j % 4] |= UInt8(truncatingIfNeeded: Int(l) << (2 * (j / 4)))
                    }
                    y.setF16(108, 1 / iscale)
                } else {
                    y.setF16(108, 0)
                }
                let r = UnsafeRawBufferPointer(y)
                let D = r.f16(108)
                for j in 0..<16 {
                    let d = D * Float(scale(r, j))
                    if d == 0 { continue }
                    for i in 0..<16 {
                        L[16 * j + i] = Int8(max(-4, min(3, nearestInt(xp[16 * j + i] / d))) + 4)
                    }
                }
                for i in 0..<32 { y[i] = 0 }
                for j in 0..<256 where L[j] > 3 {
                    y[j % 32] |= UInt8(1) << UInt8(j / 32)
                    L[j] -= 4
                }
                for j in stride(from: 0, to: 256, by: 128) {
                    for l in 0..<32 {
                        let v = Int(L[j + l]) | Int(L[j + l + 32]) << 2 | Int(L[j + l + 64]) << 4 | Int(L[j + l + 96]) << 6
                        y[32 + j / 4 + l] = UInt8(truncatingIfNeeded: v)
                    }
                }
            }
        }
    }
}
