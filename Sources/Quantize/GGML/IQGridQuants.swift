import Formats

// Decoders of the codebook ("i-quant") types, ports of gguf-py 0.19's `dequantize_blocks`
// (which equal ggml's `dequantize_row_iq*`). Quantizing them needs an importance matrix in
// llama.cpp, so ckpt only decodes them.

@inline(__always) private func sign(_ bits: UInt8, _ j: Int) -> Float { (bits >> UInt8(j)) & 1 == 0 ? 1 : -1 }

/// IQ2_XXS (66 bytes / 256): fp16 d, 8 × (4 grid bytes + u32 of 4×7 sign bits and a 4-bit scale).
public enum IQ2_XXS: BlockCodec {
    public static let type = GGMLType.IQ2_XXS
    public static let weightsPerBlock = 256
    public static let bytesPerBlock = 66

    public static func decode(_ b: UnsafeRawBufferPointer, into y: UnsafeMutableBufferPointer<Float>) {
        let d = b.f16(0)
        let grid = IQGrids.iq2xxs, ksigns = IQGrids.ksigns
        for ib in 0..<8 {
            let aux1 = b.u32(2 + 8 * ib + 4)
            let db = d * (0.5 + Float(aux1 >> 28)) * 0.25
            for l in 0..<4 {
                let g = Int(b[2 + 8 * ib + l]) * 8
                let signs = ksigns[Int((aux1 >> UInt32(7 * l)) & 127)]
                for j in 0..<8 { y[32 * ib + 8 * l + j] = db * Float(grid[g + j]) * sign(signs, j) }
            }
        }
    }
}

/// IQ2_XS (74 bytes / 256): fp16 d, 32 u16 (9-bit grid index + 7 sign bits), 8 bytes of scales.
public enum IQ2_XS: BlockCodec {
    public static let type = GGMLType.IQ2_XS
    public static let weightsPerBlock = 256
    public static let bytesPerBlock = 74

    public static func decode(_ b: UnsafeRawBufferPointer, into y: UnsafeMutableBufferPointer<Float>) {
        let d = b.f16(0)
        let grid = IQGrids.iq2xs, ksigns = IQGrids.ksigns
        for k in 0..<32 {
            let q = b.u16(2 + 2 * k)
            let s = (b[66 + k / 4] >> UInt8(4 * ((k / 2) % 2))) & 0xF
            let db = d * (0.5 + Float(s)) * 0.25
            let g = Int(q & 511) * 8, signs = ksigns[Int(q >> 9)]
            for j in 0..<8 { y[8 * k + j] = db * Float(grid[g + j]) * sign(signs, j) }
        }
    }
}

/// IQ2_S (82 bytes / 256): fp16 d, qs[32], signs[32], qh[8], scales[8]; 10-bit grid indices.
public enum IQ2_S: BlockCodec {
    public static let type = GGMLType.IQ2_S
    public static let weightsPerBlock = 256
    public static let bytesPerBlock = 82

    public static func decode(_ b: UnsafeRawBufferPointer, into y: UnsafeMutableBufferPointer<Float>) {
        let d = b.f16(0)
        let grid = IQGrids.iq2s
        for k in 0..<32 {
            let s = (b[74 + k / 4] >> UInt8(4 * ((k / 2) % 2))) & 0xF
            let db = d * (0.5 + Float(s)) * 0.25
            let index = Int(b[2 + k]) | Int((b[66 + k / 4] >> UInt8(2 * (k % 4))) & 3) << 8
            let signs = b[34 + k]
            for j in 0..<8 { y[8 * k + j] = db * Float(grid[8 * index + j]) * sign(signs, j) }
        }
    }
}

/// IQ3_XXS (98 bytes / 256): fp16 d, 64 grid bytes (4 weights each), 8 u32 of signs + 4-bit scale.
public enum IQ3_XXS: BlockCodec {
    public static let type = GGMLType.IQ3_XXS
    public static let weightsPerBlock = 256
    public static let bytesPerBlock = 98

    public static func decode(_ b: UnsafeRawBufferPointer, into y: UnsafeMutableBufferPointer<Float>) {
        let d = b.f16(0)
        let grid = IQGrids.iq3xxs, ksigns = IQGrids.ksigns
        for ib in 0..<8 {
            let aux = b.u32(66 + 4 * ib)
            let db = d * (0.5 + Float(aux >> 28)) * 0.5
            for l in 0..<4 {
                let signs = ksigns[Int((aux >> UInt32(7 * l)) & 127)]
                for half in 0..<2 {
                    let g = Int(b[2 + 8 * ib + 2 * l + half]) * 4
                    for j in 0..<4 {
                        y[32 * ib + 8 * l + 4 * half + j] = db * Float(grid[g + j]) * sign(signs, 4 * half + j)
                    }
                }
            }
        }
    }
}

/// IQ3_S (110 bytes / 256): fp16 d, qs[64], qh[8], signs[32], scales[4]; 9-bit grid indices.
public enum IQ3_S: BlockCodec {
    public static let type = GGMLType.IQ3_S
    public static let weightsPerBlock = 256
    public static let bytesPerBlock = 110

    public static func decode(_ b: UnsafeRawBufferPointer, into y: UnsafeMutableBufferPointer<Float>) {
        let d = b.f16(0)
        let grid = IQGrids.iq3s
        for k in 0..<64 {
            let ib = k / 8
            let s = (b[106 + ib / 2] >> UInt8(4 * (ib % 2))) & 0xF
            let db = d * Float(1 + 2 * Int(s))
            let index = Int(b[2 + k]) | Int((b[66 + k / 8] >> UInt8(k % 8)) & 1) << 8
            for j in 0..<4 {
                let e = 4 * k + j
                y[e] = db * Float(grid[4 * index + j]) * sign(b[74 + e / 8], e % 8)
            }
        }
    }
}

/// IQ1_S (50 bytes / 256): fp16 d, qs[32], 8 u16 qh (3 index bits ×4, 3-bit scale, delta sign).
public enum IQ1_S: BlockCodec {
    public static let type = GGMLType.IQ1_S
    public static let weightsPerBlock = 256
    public static let bytesPerBlock = 50

    public static func decode(_ b: UnsafeRawBufferPointer, into y: UnsafeMutableBufferPointer<Float>) {
        let d = b.f16(0)
        let grid = IQGrids.iq1s
        for ib in 0..<8 {
            let qh = b.u16(34 + 2 * ib)
            let dl = d * Float(2 * Int((qh >> 12) & 7) + 1)
            let delta = qh & 0x8000 == 0 ? IQGrids.iq1Delta : -IQGrids.iq1Delta
            for l in 0..<4 {
                let index = Int(b[2 + 4 * ib + l]) | Int((qh >> UInt16(3 * l)) & 7) << 8
                for j in 0..<8 { y[32 * ib + 8 * l + j] = dl * (Float(grid[8 * index + j]) + delta) }
            }
        }
    }
}

/// IQ1_M (56 bytes / 256): qs[32], qh[16], 4 u16 of 3-bit scales whose top nibbles form fp16 d.
public enum IQ1_M: BlockCodec {
    public static let type = GGMLType.IQ1_M
    public static let weightsPerBlock = 256
    public static let bytesPerBlock = 56

    public static func decode(_ b: UnsafeRawBufferPointer, into y: UnsafeMutableBufferPointer<Float>) {
        let sc = (b.u16(48), b.u16(50), b.u16(52), b.u16(54))
        let dBits = (sc.0 & 0xF000) >> 12 | (sc.1 & 0xF000) >> 8 | (sc.2 & 0xF000) >> 4 | (sc.3 & 0xF000)
        let d = Half.toFloat(dBits)
        let scales = [sc.0, sc.1, sc.2, sc.3]
        let grid = IQGrids.iq1s
        for k in 0..<32 {
            let s = Int((scales[k / 8] >> UInt16(3 * ((k / 2) % 4))) & 7)
            let dl = d * Float(2 * s + 1)
            let nibble = (b[32 + k / 2] >> UInt8(4 * (k % 2))) & 0xF
            let index = Int(b[k]) | Int(nibble & 7) << 8
            let delta = nibble & 0x08 == 0 ? IQGrids.iq1Delta : -IQGrids.iq1Delta
            for j in 0..<8 { y[8 * k + j] = dl * (Float(grid[8 * index + j]) + delta) }
        }
    }
}
