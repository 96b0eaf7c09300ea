import Foundation
import Formats

/// MXFP4 (17 bytes / 32): an E8M0 exponent byte and 16 bytes of E2M1 nibbles (OCP MX).
/// Same bytes as `quantize_row_mxfp4_ref` (ggml@d99724f2; formats-gguf.md §2.10).
public enum MXFP4: BlockEncoder {
    public static let type = GGMLType.MXFP4
    public static let weightsPerBlock = 32
    public static let bytesPerBlock = 17
    /// ggml's `kvalues_mxfp4`: E2M1 values times two.
    static let kvalues: [Int8] = [0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12]

    /// ggml's `GGML_E8M0_TO_FP32_HALF`: 2^(e − 128).
    @inline(__always) static func halfScale(_ e: UInt8) -> Float {
        Float(bitPattern: e < 2 ? UInt32(0x0020_0000) << UInt32(e) : UInt32(e - 1) << 23)
    }

    public static func decode(_ b: UnsafeRawBufferPointer, into y: UnsafeMutableBufferPointer<Float>) {
        let d = halfScale(b[0])
        for j in 0..<16 {
            y[j] = Float(kvalues[Int(b[1 + j] & 0xF)]) * d
            y[j + 16] = Float(kvalues[Int(b[1 + j] >> 4)]) * d
        }
    }

    @inline(__always) static func bestIndex(_ x: Float, _ e: Float) -> UInt8 {
        var best = 0
        var bestErr = (Float(kvalues[0]) * e - x).magnitude
        for i in 1..<16 {
            let err = (Float(kvalues[i]) * e - x).magnitude
            if err < bestErr {
                best = i
                bestErr = err
            }
        }
        return UInt8(best)
    }

    public static func encode(_ x: UnsafeBufferPointer<Float>, into y: UnsafeMutableRawBufferPointer) {
        var amax: Float = 0
        for v in x where amax < v.magnitude { amax = v.magnitude }
        let e: UInt8 = amax > 0 ? UInt8(truncatingIfNeeded: truncToInt(floorf(log2f(amax)) - 2 + 127)) : 0
        let d = halfScale(e)
        y[0] = e
        for j in 0..<16 { y[1 + j] = bestIndex(x[j], d) | (bestIndex(x[j + 16], d) << 4) }
    }
}

/// Q8_K (292 bytes / 256): float32 d, 256 int8, 16 int16 partial sums; ggml's runtime
/// dot-product operand (never in model files), decoded for completeness.
public enum Q8_K: BlockCodec {
    public static let type = GGMLType.Q8_K
    public static let weightsPerBlock = 256
    public static let bytesPerBlock = 292

    public static func decode(_ b: UnsafeRawBufferPointer, into y: UnsafeMutableBufferPointer<Float>) {
        let d = Float(bitPattern: b.u32(0))
        for j in 0..<256 { y[j] = d * Float(b.i8(4 + j)) }
    }
}

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
