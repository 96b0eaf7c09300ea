// swift-format-ignore-file: AlwaysUseLowerCamelCase
import Formats

/// Decoders of one GGML block into floats (formats-gguf.md §2.4 legacy, §2.6 K-quants),
/// with ggml's operation order (`(d * sc) * q - (dmin * m)`), so values match
/// `dequantize_row_*` in ggml-quants.c and gguf-py's `quants.dequantize`.
///
/// The Quantize module owns the codecs; these are the read side the matmul kernel needs,
/// and other types plug in through `RowDequantizer`.
enum GGMLBlocks {
    static let supported: Set<GGMLType> = [.Q4_0, .Q4_1, .Q5_0, .Q5_1, .Q8_0, .Q4_K, .Q5_K, .Q6_K]

    @inline(__always)
    static func half(_ p: UnsafeRawPointer, _ at: Int) -> Float {
        Scalars.fromHalf(p.loadUnaligned(fromByteOffset: at, as: UInt16.self).littleEndian)
    }

    @inline(__always)
    static func byte(_ p: UnsafeRawPointer, _ at: Int) -> UInt8 {
        p.load(fromByteOffset: at, as: UInt8.self)
    }

    /// get_scale_min_k4: 6-bit scale and min of sub-block `j` from the 12 packed bytes at `s`.
    @inline(__always)
    static func scaleMin(_ j: Int, _ s: UnsafeRawPointer) -> (Float, Float) {
        if j < 4 {
            return (Float(byte(s, j) & 63), Float(byte(s, j + 4) & 63))
        }
        let sc = (byte(s, j + 4) & 0xF) | ((byte(s, j - 4) >> 6) << 4)
        let m = (byte(s, j + 4) >> 4) | ((byte(s, j) >> 6) << 4)
        return (Float(sc), Float(m))
    }

    /// Decodes the block at `p` (`type.bytesPerBlock` bytes) into `type.blockSize` floats.
    static func decode(_ type: GGMLType, _ p: UnsafeRawPointer, _ o: UnsafeMutablePointer<Float>) {
        switch type {
        case .Q4_0:
            let d = half(p, 0)
            for j in 0..<16 {
                let q = byte(p, 2 + j)
                o[j] = Float(Int(q & 0xF) - 8) * d
                o[j + 16] = Float(Int(q >> 4) - 8) * d
            }
        case .Q4_1:
            let d = half(p, 0), m = half(p, 2)
            for j in 0..<16 {
                let q = byte(p, 4 + j)
                o[j] = Float(q & 0xF) * d + m
                o[j + 16] = Float(q >> 4) * d + m
            }
        case .Q5_0:
            let d = half(p, 0)
            let qh = p.loadUnaligned(fromByteOffset: 2, as: UInt32.self).littleEndian
            for j in 0..<16 {
                let q = byte(p, 6 + j)
                let lo = Int(q & 0xF) | Int((qh >> UInt32(j)) & 1) << 4
                let hi = Int(q >> 4) | Int((qh >> UInt32(j + 16)) & 1) << 4
                o[j] = Float(lo - 16) * d
                o[j + 16] = Float(hi - 16) * d
            }
        case .Q5_1:
            let d = half(p, 0), m = half(p, 2)
            let qh = p.loadUnaligned(fromByteOffset: 4, as: UInt32.self).littleEndian
            for j in 0..<16 {
                let q = byte(p, 8 + j)
                let lo = Int(q & 0xF) | Int((qh >> UInt32(j)) & 1) << 4
                let hi = Int(q >> 4) | Int((qh >> UInt32(j + 16)) & 1) << 4
                o[j] = Float(lo) * d + m
                o[j + 16] = Float(hi) * d + m
            }
        case .Q8_0:
            let d = half(p, 0)
            for j in 0..<32 { o[j] = Float(p.load(fromByteOffset: 2 + j, as: Int8.self)) * d }
        case .Q4_K, .Q5_K:
            let d = half(p, 0), dmin = half(p, 2)
            let scales = p + 4
            let five = type == .Q5_K
            let qs = five ? 48 : 16
            for c in 0..<4 {
                let (s1, m1) = scaleMin(2 * c, scales), (s2, m2) = scaleMin(2 * c + 1, scales)
                let d1 = d * s1, mm1 = dmin * m1, d2 = d * s2, mm2 = dmin * m2
                for l in 0..<32 {
                    let q = byte(p, qs + 32 * c + l)
                    var lo = q & 0xF, hi = q >> 4
                    if five {
                        let h = byte(p, 16 + l)
                        lo |= ((h >> UInt8(2 * c)) & 1) << 4
                        hi |= ((h >> UInt8(2 * c + 1)) & 1) << 4
                    }
                    o[64 * c + l] = d1 * Float(lo) - mm1
                    o[64 * c + 32 + l] = d2 * Float(hi) - mm2
                }
            }
        case .Q6_K:
            let d = half(p, 208)
            for h in 0..<2 {
                for l in 0..<32 {
                    let ql0 = byte(p, 64 * h + l), ql1 = byte(p, 64 * h + 32 + l)
                    let qh = byte(p, 128 + 32 * h + l)
                    let q = [
                        Int(ql0 & 0xF) | Int(qh & 3) << 4,
                        Int(ql1 & 0xF) | Int((qh >> 2) & 3) << 4,
                        Int(ql0 >> 4) | Int((qh >> 4) & 3) << 4,
                        Int(ql1 >> 4) | Int((qh >> 6) & 3) << 4,
                    ]
                    for k in 0..<4 {
                        let e = 128 * h + l + 32 * k
                        let sc = Float(p.load(fromByteOffset: 192 + e / 16, as: Int8.self))
                        o[e] = (d * sc) * Float(q[k] - 32)
                    }
                }
            }
        default:
            preconditionFailure("GGMLRows admits only supported types")
        }
    }
}
