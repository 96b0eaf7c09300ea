import Formats

/// Moves weights between GGUF's legacy blocks and MLX affine groups of 32 without re-quantizing.
///
/// A Q4_1 block is an affine 4-bit group (scale d, bias m, the same nibbles); Q4_0 is one with
/// bias −8d, Q8_0 an 8-bit group with codes q + 128 and bias −128d. Whether the result is
/// *exact* (every weight dequantizes to the same float32 value on both sides) depends on the
/// scale dtype and the values, so each call checks it by dequantizing both and comparing.
public enum Transcode {
    /// Block types that map onto affine groups of 32.
    public static let ggmlTypes: Set<GGMLType> = [.Q4_0, .Q4_1, .Q8_0]

    /// GGUF blocks (`shape` is the unpacked weight shape, rows of whole blocks) → affine with
    /// scales/biases in `dtype`; `exact` tells whether every weight decodes identically.
    public static func ggmlToAffine(_ t: GGMLType, blocks: UnsafeRawBufferPointer, shape: [Int],
                                    dtype: DType = .f32) throws(QuantizeError) -> (result: AffineQuantized, exact: Bool) {
        guard ggmlTypes.contains(t) else { throw QuantizeError(.unsupported("transcoding \(t.name) to MLX affine")) }
        let bits = t == .Q8_0 ? 8 : 4
        let (rows, k, groupsPerRow) = try AffineLimits.check(shape: shape, dtype: dtype, bits: bits, groupSize: 32)
        let groups = rows * groupsPerRow
        try GGMLCodec.checkSize(t, weights: rows * k, bytes: blocks.count, what: "source")
        let es = dtype.byteSize ?? 4
        var packed = [UInt32](repeating: 0, count: groups * bits)
        var scales = [UInt8](repeating: 0, count: groups * es)
        var biases = [UInt8](repeating: 0, count: groups * es)
        scales.withUnsafeMutableBytes { s in
            biases.withUnsafeMutableBytes { b in
                for g in 0..<groups {
                    let blk = UnsafeRawBufferPointer(rebasing: blocks[(g * t.bytesPerBlock)..<((g + 1) * t.bytesPerBlock)])
                    let d = blk.f16(0)
                    switch t {
                    case .Q4_1:
                        Affine.storeScalar(d, dtype, s, g)
                        Affine.storeScalar(blk.f16(2), dtype, b, g)
                        for w in 0..<4 { packed[g * 4 + w] = nibbleWord(blk, qsOffset: 4, word: w) }
                    case .Q4_0:
                        Affine.storeScalar(d, dtype, s, g)
                        Affine.storeScalar(-8 * d, dtype, b, g)
                        for w in 0..<4 { packed[g * 4 + w] = nibbleWord(blk, qsOffset: 2, word: w) }
                    default:  // Q8_0
                        Affine.storeScalar(d, dtype, s, g)
                        Affine.storeScalar(-128 * d, dtype, b, g)
                        for w in 0..<8 {
                            var word: UInt32 = 0
                            for i in 0..<4 { word |= UInt32(blk[2 + 4 * w + i] ^ 0x80) << UInt32(8 * i) }
                            packed[g * 8 + w] = word
                        }
                    }
                }
            }
        }
        var packedShape = shape, scalesShape = shape
        packedShape[shape.count - 1] = k * bits / 32
        scalesShape[shape.count - 1] = groupsPerRow
        let result = AffineQuantized(packed: packed, scales: scales, biases: biases, packedShape: packedShape,
                                     scalesShape: scalesShape, dtype: dtype, bits: bits, groupSize: 32)
        let exact = try sameWeights(result, t, blocks)
        return (result, exact)
    }

    /// Affine groups of 32 → GGUF blocks of `t`, or nil when that would not be exact (the scale
    /// or bias does not fit fp16, Q4_0/Q8_0's bias is not −8d / −128d, or any weight would
    /// decode differently).
    public static func affineToGGML(_ q: AffineQuantized, to t: GGMLType) throws(QuantizeError) -> [UInt8]? {
        guard ggmlTypes.contains(t) else { throw QuantizeError(.unsupported("transcoding MLX affine to \(t.name)")) }
        guard q.groupSize == 32, q.bits == (t == .Q8_0 ? 8 : 4) else { return nil }
        let shape = q.scalesShape.dropLast() + [q.scalesShape.last.map { $0 * 32 } ?? 0]
        let (rows, k, groupsPerRow) = try AffineLimits.check(shape: Array(shape), dtype: q.dtype, bits: q.bits, groupSize: 32)
        let groups = rows * groupsPerRow
        guard q.packed.count == groups * q.bits, q.scales.count == groups * (q.dtype.byteSize ?? 4),
              q.biases.count == q.scales.count else {
            throw QuantizeError(.shape("affine tensor parts do not match shape \(Array(shape))"))
        }
        var out = [UInt8](repeating: 0, count: groups * t.bytesPerBlock)
        let ok: Bool = q.scales.withUnsafeBytes { s in
            q.biases.withUnsafeBytes { b in
                out.withUnsafeMutableBytes { o in
                    for g in 0..<groups {
                        let scale = Scalars.loadAsFloat(s, q.dtype, g), bias = Scalars.loadAsFloat(b, q.dtype, g)
                        let blk = UnsafeMutableRawBufferPointer(rebasing: o[(g * t.bytesPerBlock)..<((g + 1) * t.bytesPerBlock)])
                        guard blk.setF16(0, scale) == scale else { return false }
                        switch t {
                        case .Q4_1:
                            guard blk.setF16(2, bias) == bias else { return false }
                            storeNibbles(q.packed, group: g, into: blk, qsOffset: 4)
                        case .Q4_0:
                            guard bias == -8 * scale else { return false }
                            storeNibbles(q.packed, group: g, into: blk, qsOffset: 2)
                        default:
                            guard bias == -128 * scale else { return false }
                            for w in 0..<8 {
                                for i in 0..<4 { blk[2 + 4 * w + i] = UInt8(truncatingIfNeeded: q.packed[g * 8 + w] >> UInt32(8 * i)) ^ 0x80 }
                            }
                        }
                    }
                    return true
                }
            }
        }
        guard ok else { return nil }
        var exact = false
        var failure: QuantizeError?
        out.withUnsafeBytes { o in
            do throws(QuantizeError) { exact = try sameWeights(q, t, o) } catch { failure = error }
        }
        if let failure { throw failure }
        _ = k
        return exact ? out : nil
    }

    /// Affine word w (8 codes, elements 8w..8w+7) from a legacy block's nibbles (element j < 16 is
    /// the low nibble of qs[j], element j + 16 the high nibble).
    @inline(__always) static func nibbleWord(_ blk: UnsafeRawBufferPointer, qsOffset: Int, word w: Int) -> UInt32 {
        var v: UInt32 = 0
        for i in 0..<8 {
            let e = 8 * w + i
            let byte = blk[qsOffset + e % 16]
            v |= UInt32(e < 16 ? byte & 0xF : byte >> 4) << UInt32(4 * i)
        }
        return v
    }

    @inline(__always) static func storeNibbles(_ packed: [UInt32], group g: Int, into blk: UnsafeMutableRawBufferPointer, qsOffset: Int) {
        for e in 0..<32 {
            let code = UInt8((packed[g * 4 + e / 8] >> UInt32(4 * (e % 8))) & 0xF)
            blk[qsOffset + e % 16] |= e < 16 ? code : code << 4
        }
    }

    /// True when the affine tensor and the GGUF blocks dequantize to equal float32 values (−0 and +0
    /// count as equal: Q4_0 gives (8 − 8)·d = −0 for a negative d where affine gives +0).
    static func sameWeights(_ q: AffineQuantized, _ t: GGMLType, _ blocks: UnsafeRawBufferPointer) throws(QuantizeError) -> Bool {
        let n = q.scales.count / (q.dtype.byteSize ?? 4) * 32
        var a = [Float](repeating: 0, count: n), b = [Float](repeating: 0, count: n)
        let shape = [n / 32, 32]
        var failure: QuantizeError?
        a.withUnsafeMutableBufferPointer { dst in
            do throws(QuantizeError) { try GGMLCodec.dequantize(t, blocks, into: dst) } catch { failure = error }
        }
        q.packed.withUnsafeBytes { p in
            q.scales.withUnsafeBytes { s in
                q.biases.withUnsafeBytes { bi in
                    b.withUnsafeMutableBufferPointer { dst in
                        do throws(QuantizeError) {
                            try Affine.dequantize(packed: p, scales: s, biases: bi, dtype: q.dtype, shape: shape,
                                                  bits: q.bits, groupSize: 32, into: dst)
                        } catch { failure = error }
                    }
                }
            }
        }
        if let failure { throw failure }
        for i in 0..<n where a[i] != b[i] && !(a[i].isNaN && b[i].isNaN) { return false }
        return true
    }
}
