import Formats

/// Q5_K (176 bytes / 256): fp16 d, dmin, 12 bytes of 6-bit scales/mins, qh[32], qs[128].
/// Same bytes as `quantize_row_q5_K_ref` (ggml@d99724f2; formats-gguf.md §2.6-2.7).
public enum Q5_K: BlockEncoder {
    public static let type = GGMLType.Q5_K
    public static let weightsPerBlock = 256
    public static let bytesPerBlock = 176

    public static func decode(_ b: UnsafeRawBufferPointer, into y: UnsafeMutableBufferPointer<Float>) {
        let d = b.f16(0), dmin = b.f16(2)
        for j in 0..<8 {
            let (sc, m) = scaleMinK4(j, b, 4)
            let d1 = d * Float(sc), m1 = dmin * Float(m)
            let chunk = j / 2, high = j % 2 == 1
            let bit = UInt8(2 * chunk + (high ? 1 : 0))
            for l in 0..<32 {
                let byte = b[48 + 32 * chunk + l]
                let q = (high ? byte >> 4 : byte & 0xF) | (((b[16 + l] >> bit) & 1) << 4)
                y[32 * j + l] = d1 * Float(q) - m1
            }
        }
    }

    public static func encode(_ x: UnsafeBufferPointer<Float>, into y: UnsafeMutableRawBufferPointer) {
        KQuant45.encode(x, into: y, nmax: 31, rmin: -0.5, nstep: 15)
    }
}
