import Formats

// The 32-element blocks (formats-gguf.md §2.4), ports of `quantize_row_q*_ref` and
// `dequantize_row_q*` in ggml-quants.c (ggml@d99724f2); gguf-py's quantize gives the same bytes.

/// Q4_0: fp16 d, 16 bytes of nibbles; value (q − 8)·d.
public enum Q4_0: BlockEncoder {
    public static let type = GGMLType.Q4_0
    public static let weightsPerBlock = 32
    public static let bytesPerBlock = 18

    public static func decode(_ b: UnsafeRawBufferPointer, into y: UnsafeMutableBufferPointer<Float>) {
        let d = b.f16(0)
        for j in 0..<16 {
            let q = b[2 + j]
            y[j] = d * Float(Int(q & 0xF) - 8)
            y[j + 16] = d * Float(Int(q >> 4) - 8)
        }
    }

    public static func encode(_ x: UnsafeBufferPointer<Float>, into y: UnsafeMutableRawBufferPointer) {
        let (_, max) = signedAbsMax(x)
        let d = max / -8
        let id: Float = d != 0 ? 1 / d : 0
        y.setF16(0, d)
        for j in 0..<16 {
            let q0 = min(15, Int(Int8(truncatingIfNeeded: truncToInt(x[j] * id + 8.5))))
            let q1 = min(15, Int(Int8(truncatingIfNeeded: truncToInt(x[j + 16] * id + 8.5))))
            y[2 + j] = UInt8(truncatingIfNeeded: q0) | UInt8(truncatingIfNeeded: q1) << 4
        }
    }
}

/// Q4_1: fp16 d and m, 16 bytes of nibbles; value q·d + m.
public enum Q4_1: BlockEncoder {
    public static let type = GGMLType.Q4_1
    public static let weightsPerBlock = 32
    public static let bytesPerBlock = 20

    public static func decode(_ b: UnsafeRawBufferPointer, into y: UnsafeMutableBufferPointer<Float>) {
        let d = b.f16(0), m = b.f16(2)
        for j in 0..<16 {
            let q = b[4 + j]
            y[j] = d * Float(q & 0xF) + m
            y[j + 16] = d * Float(q >> 4) + m
        }
    }

    public static func encode(_ x: UnsafeBufferPointer<Float>, into y: UnsafeMutableRawBufferPointer) {
        var lo = Float.greatestFiniteMagnitude, hi = -Float.greatestFiniteMagnitude
        for v in x {
            if v < lo { lo = v }
            if v > hi { hi = v }
        }
        let d = (hi - lo) / 15
        let id: Float = d != 0 ? 1 / d : 0
        y.setF16(0, d)
        y.setF16(2, lo)
        for j in 0..<16 {
            let q0 = min(15, Int(Int8(truncatingIfNeeded: truncToInt((x[j] - lo) * id + 0.5))))
            let q1 = min(15, Int(Int8(truncatingIfNeeded: truncToInt((x[j + 16] - lo) * id + 0.5))))
            y[4 + j] = UInt8(truncatingIfNeeded: q0) | UInt8(truncatingIfNeeded: q1) << 4
        }
    }
}

/// Q5_0: fp16 d, u32 of fifth bits, 16 bytes of nibbles; value (q − 16)·d.
public enum Q5_0: BlockEncoder {
    public static let type = GGMLType.Q5_0
    public static let weightsPerBlock = 32
    public static let bytesPerBlock = 22

    public static func decode(_ b: UnsafeRawBufferPointer, into y: UnsafeMutableBufferPointer<Float>) {
        let d = b.f16(0), qh = b.u32(2)
        for j in 0..<16 {
            let q = b[6 + j]
            let h0 = Int((qh >> UInt32(j)) & 1) << 4, h1 = Int((qh >> UInt32(j + 16)) & 1) << 4
            y[j] = d * Float(Int(q & 0xF) + h0 - 16)
            y[j + 16] = d * Float(Int(q >> 4) + h1 - 16)
        }
    }

    public static func encode(_ x: UnsafeBufferPointer<Float>, into y: UnsafeMutableRawBufferPointer) {
        let (_, max) = signedAbsMax(x)
        let d = max / -16
        let id: Float = d != 0 ? 1 / d : 0
        y.setF16(0, d)
        var qh: UInt32 = 0
        for j in 0..<16 {
            let q0 = min(31, Int(Int8(truncatingIfNeeded: truncToInt(x[j] * id + 16.5))))
            let q1 = min(31, Int(Int8(truncatingIfNeeded: truncToInt(x[j + 16] * id + 16.5))))
            y[6 + j] = UInt8(truncatingIfNeeded: q0 & 15) | UInt8(truncatingIfNeeded: q1 & 15) << 4
            qh |= UInt32(truncatingIfNeeded: (q0 & 0x10) >> 4) << UInt32(j)
            qh |= UInt32(truncatingIfNeeded: (q1 & 0x10) >> 4) << UInt32(j + 16)
        }
        y.setU32(2, qh)
    }
}

/// Q5_1: fp16 d and m, u32 of fifth bits, 16 bytes of nibbles; value q·d + m.
public enum Q5_1: BlockEncoder {
    public static let type = GGMLType.Q5_1
    public static let weightsPerBlock = 32
    public static let bytesPerBlock = 24

    public static func decode(_ b: UnsafeRawBufferPointer, into y: UnsafeMutableBufferPointer<Float>) {
        let d = b.f16(0), m = b.f16(2), qh = b.u32(4)
        for j in 0..<16 {
            let q = b[8 + j]
            let h0 = Int((qh >> UInt32(j)) & 1) << 4, h1 = Int((qh >> UInt32(j + 16)) & 1) << 4
            y[j] = d * Float(Int(q & 0xF) | h0) + m
            y[j + 16] = d * Float(Int(q >> 4) | h1) + m
        }
    }

    public static func encode(_ x: UnsafeBufferPointer<Float>, into y: UnsafeMutableRawBufferPointer) {
        var lo = Float.greatestFiniteMagnitude, hi = -Float.greatestFiniteMagnitude
        for v in x {
            if v < lo { lo = v }
            if v > hi { hi = v }
        }
        let d = (hi - lo) / 31
        let id: Float = d != 0 ? 1 / d : 0
        y.setF16(0, d)
        y.setF16(2, lo)
        var qh: UInt32 = 0
        for j in 0..<16 {
            let q0 = Int(UInt8(truncatingIfNeeded: truncToInt((x[j] - lo) * id + 0.5)))
            let q1 = Int(UInt8(truncatingIfNeeded: truncToInt((x[j + 16] - lo) * id + 0.5)))
            y[8 + j] = UInt8(truncatingIfNeeded: q0 & 15) | UInt8(truncatingIfNeeded: q1 & 15) << 4
            qh |= UInt32(truncatingIfNeeded: (q0 & 0x10) >> 4) << UInt32(j)
            qh |= UInt32(truncatingIfNeeded: (q1 & 0x10) >> 4) << UInt32(j + 16)
        }
        y.setU32(4, qh)
    }
}

/// Q8_0: fp16 d, 32 int8; value q·d.
public enum Q8_0: BlockEncoder {
    public static let type = GGMLType.Q8_0
    public static let weightsPerBlock = 32
    public static let bytesPerBlock = 34

    public static func decode(_ b: UnsafeRawBufferPointer, into y: UnsafeMutableBufferPointer<Float>) {
        let d = b.f16(0)
        for j in 0..<32 { y[j] = d * Float(b.i8(2 + j)) }
    }

    public static func encode(_ x: UnsafeBufferPointer<Float>, into y: UnsafeMutableRawBufferPointer) {
        var amax: Float = 0
        for v in x { amax = Swift.max(amax, v.magnitude) }
        let d = amax / 127
        let id: Float = d != 0 ? 1 / d : 0
        y.setF16(0, d)
        for j in 0..<32 { y[2 + j] = UInt8(truncatingIfNeeded: Int8(truncatingIfNeeded: roundHalfAway(x[j] * id))) }
    }
}

/// Q8_1: fp16 d, fp16 s = d·Σq, 32 int8 (ggml's runtime dot-product operand); value q·d.
public enum Q8_1: BlockEncoder {
    public static let type = GGMLType.Q8_1
    public static let weightsPerBlock = 32
    public static let bytesPerBlock = 36

    public static func decode(_ b: UnsafeRawBufferPointer, into y: UnsafeMutableBufferPointer<Float>) {
        let d = b.f16(0)
        for j in 0..<32 { y[j] = d * Float(b.i8(4 + j)) }
    }

    public static func encode(_ x: UnsafeBufferPointer<Float>, into y: UnsafeMutableRawBufferPointer) {
        var amax: Float = 0
        for v in x { amax = Swift.max(amax, v.magnitude) }
        let d = amax / 127
        let id: Float = d != 0 ? 1 / d : 0
        y.setF16(0, d)
        var sum = 0
        for j in 0..<32 {
            let q = Int8(truncatingIfNeeded: roundHalfAway(x[j] * id))
            y[4 + j] = UInt8(bitPattern: q)
            sum += Int(q)
        }
        y.setF16(2, Float(sum) * d)
    }
}
