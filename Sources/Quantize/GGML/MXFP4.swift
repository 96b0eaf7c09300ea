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
