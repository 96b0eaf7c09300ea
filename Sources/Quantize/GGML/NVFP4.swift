import Formats

/// NVFP4 (36 bytes / 64): four UE4M3 sub-block scales (one per 16 weights), then 32 bytes of
/// E2M1 nibbles. Decodes like ggml's `dequantize_row_nvfp4` and gguf-py 0.19.
public enum NVFP4: BlockCodec {
    public static let type = GGMLType.NVFP4
    public static let weightsPerBlock = 64
    public static let bytesPerBlock = 36

    /// ggml's `ggml_ue4m3_to_fp32`: unsigned E4M3 (bias 7) times 0.5; 0 and 0x7F decode to 0.
    @inline(__always) static func scale(_ x: UInt8) -> Float {
        if x == 0 || x == 0x7F { return 0 }
        let exp = Int((x >> 3) & 0xF), man = Float(x & 0x7)
        let raw = exp == 0 ? man * 0x1p-9 : (1 + man / 8) * Float(sign: .plus, exponent: exp - 7, significand: 1)
        return raw * 0.5
    }

    public static func decode(_ b: UnsafeRawBufferPointer, into y: UnsafeMutableBufferPointer<Float>) {
        for s in 0..<4 {
            let d = scale(b[s])
            for j in 0..<8 {
                let q = b[4 + 8 * s + j]
                y[16 * s + j] = d * Float(MXFP4.kvalues[Int(q & 0xF)])
                y[16 * s + j + 8] = d * Float(MXFP4.kvalues[Int(q >> 4)])
            }
        }
    }
}
