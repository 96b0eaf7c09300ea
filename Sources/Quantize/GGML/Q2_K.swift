import Formats

/// Q2_K (84 bytes / 256): scales[16] (low nibble scale, high nibble min), qs[64] 2-bit, fp16 d, dmin.
/// Same bytes as `quantize_row_q2_K_ref` (ggml@d99724f2; formats-gguf.md §2.6-2.7).
public enum Q2_K: BlockEncoder {
    public static let type = GGMLType.Q2_K
    public static let weightsPerBlock = 256
    public static let bytesPerBlock = 84

    public static func decode(_ b: UnsafeRawBufferPointer, into y: UnsafeMutableBufferPointer<Float>) {
        let d = b.f16(80), dmin = b.f16(82)
        for e in 0..<256 {
            let half = e / 128, r = e % 128, k = r / 32, l = r % 32
            let q = (b[16 + 32 * half + l] >> UInt8(2 * k)) & 3
            let sc = b[e / 16]
            let dl = d * Float(sc & 0xF), ml = dmin * Float(sc >> 4)
            y[e] = dl * Float(q) - ml
        }
    }

    public static func encode(_ x: UnsafeBufferPointer<Float>, into y: UnsafeMutableRawBufferPointer) {
        let xp = x.baseAddress!
        withScratch(UInt8.self, 256 + 16, 0) { L in
            let Laux = L + 256
            withScratch(Float.self, 16 + 16 + 16, 0) { f in
                let weights = f, mins = f + 16, scales = f + 32
                var maxScale: Float = 0, maxMin: Float = 0
                for j in 0..<16 {
                    for l in 0..<16 { weights[l] = xp[16 * j + l].magnitude }
                    scales[j] = makeQkx2Quants(16, 3, xp + 16 * j, weights, L + 16 * j, &mins[j], Laux,
                                               rmin: -0.5, rdelta: 0.1, nstep: 15, useMad: true)
                    if scales[j] > maxScale { maxScale = scales[j] }
                    if mins[j] > maxMin { maxMin = mins[j] }
                }
                let q4scale: Float = 15
                if maxScale > 0 {
                    let iscale = q4scale / maxScale
                    for j in 0..<16 { y[j] = UInt8(truncatingIfNeeded: nearestInt(iscale * scales[j])) }
                    y.setF16(80, maxScale / q4scale)
                } else {
                    for j in 0..<16 { y[j] = 0 }
                    y.setF16(80, 0)
                }
                if maxMin > 0 {
                    let iscale = q4scale / maxMin
                    for j in 0..<16 { y[j] |= UInt8(truncatingIfNeeded: nearestInt(iscale * mins[j]) << 4) }
                    y.setF16(82, maxMin / q4scale)
                } else {
                    y.setF16(82, 0)
                }
                let D = UnsafeRawBufferPointer(y).f16(80), M = UnsafeRawBufferPointer(y).f16(82)
                for j in 0..<16 {
                    let d = D * Float(y[j] & 0xF)
                    if d == 0 { continue }
                    let dm = M * Float(y[j] >> 4)
                    for i in 0..<16 {
                        L[16 * j + i] = UInt8(max(0, min(3, nearestInt((xp[16 * j + i] + dm) / d))))
                    }
                }
                for j in stride(from: 0, to: 256, by: 128) {
                    for l in 0..<32 {
                        y[16 + j / 4 + l] = L[j + l] | (L[j + l + 32] << 2) | (L[j + l + 64] << 4) | (L[j + l + 96] << 6)
                    }
                }
            }
        }
    }
}
