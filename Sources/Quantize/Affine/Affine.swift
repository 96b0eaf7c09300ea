import Dispatch
import Formats

/// MLX's affine quantization, bit-identical to `mx.quantize` / `mx.dequantize` on the CPU.
///
/// A port of mlx `backend/cpu/quantized.cpp::quantize` (formats-safetensors-npz-torch-mlx.md
/// §4.2-4.4): per group of `groupSize` consecutive weights along the last axis, in float32, with
/// the large-magnitude endpoint as bias (so the scale is negative when |max| ≥ |min|) and zero
/// on a code; scale and bias are rounded to the weight dtype only after the codes are made.
public enum Affine {
    /// Quantizes `weights` (elements of `dtype`, row-major `shape`) to `bits` with `groupSize`.
    /// NaN/Inf weights are an error unless `allowNonFinite`.
    public static func quantize(_ weights: UnsafeRawBufferPointer, dtype: DType, shape: [Int], bits: Int,
                                groupSize: Int, allowNonFinite: Bool = false) throws(QuantizeError) -> AffineQuantized {
        let (rows, k, groupsPerRow) = try AffineLimits.check(shape: shape, dtype: dtype, bits: bits, groupSize: groupSize)
        let elementSize = dtype.byteSize ?? 4
        guard weights.count == rows * k * elementSize else {
            throw QuantizeError(.shape("weights hold \(weights.count) bytes; shape \(shape) of \(dtype.rawValue) needs \(rows * k * elementSize)"))
        }
        let groups = rows * groupsPerRow
        let wordsPerGroup = groupSize * bits / 32
        var scales = [UInt8](repeating: 0, count: groups * elementSize)
        var biases = [UInt8](repeating: 0, count: groups * elementSize)
        var bad: Int?
        // Every word is written below (each group fills its own wordsPerGroup words), so the
        // codes need no zero fill; on a NaN/Inf error the array is dropped unread.
        let packed = [UInt32](unsafeUninitializedCapacity: groups * wordsPerGroup) { p, count in
            scales.withUnsafeMutableBytes { s in
                biases.withUnsafeMutableBytes { b in
                    let buffers = UncheckedSendable((weights, p, s, b))
                    bad = GGMLCodec.firstInChunks(blocks: groups, weightsPerBlock: groupSize) { lo, hi in
                        let (w, p, s, b) = buffers.value
                        return quantizeGroups(w, dtype: dtype, groups: lo..<hi, groupSize: groupSize, bits: bits,
                                              allowNonFinite: allowNonFinite, into: p, scales: s, biases: b)
                    }
                }
            }
            count = groups * wordsPerGroup
        }
        if let bad { throw QuantizeError(.nonFinite(index: bad)) }
        var packedShape = shape
        packedShape[packedShape.count - 1] = k * bits / 32
        var scalesShape = shape
        scalesShape[scalesShape.count - 1] = groupsPerRow
        return AffineQuantized(packed: packed, scales: scales, biases: biases, packedShape: packedShape,
                               scalesShape: scalesShape, dtype: dtype, bits: bits, groupSize: groupSize)
    }

    /// Groups `groups` (of `groupSize` consecutive weights): each widened once into float32
    /// scratch (exact), checked for NaN/Inf while in L1, then quantized (the vector path for
    /// finite groups, the scalar port otherwise). Returns the index of the first non-finite
    /// weight when `!allowNonFinite`, or nil.
    static func quantizeGroups(_ w: UnsafeRawBufferPointer, dtype: DType, groups: Range<Int>, groupSize: Int,
                               bits: Int, allowNonFinite: Bool, into packed: UnsafeMutableBufferPointer<UInt32>,
                               scales: UnsafeMutableRawBufferPointer, biases: UnsafeMutableRawBufferPointer) -> Int? {
        let wordsPerGroup = groupSize * bits / 32
        return withUnsafeTemporaryAllocation(of: Float.self, capacity: groupSize) { buffer -> Int? in
            // In bounds: the caller checked w holds groups·groupSize elements of dtype and
            // packed groups·wordsPerGroup words; x holds groupSize floats.
            guard let x = buffer.baseAddress, let src = w.baseAddress else { return nil }
            for g in groups {
                let first = g * groupSize
                switch dtype {
                case .bf16:
                    for j in stride(from: 0, to: groupSize, by: 8) {  // bf16 is the top half of a float
                        let h = (src + 2 * (first + j)).loadUnaligned(as: SIMD8<UInt16>.self)
                        UnsafeMutableRawPointer(x + j).storeBytes(
                            of: SIMD8<UInt32>(truncatingIfNeeded: h) &<< 16, as: SIMD8<UInt32>.self)
                    }
                case .f16:
                    for j in 0..<groupSize { x[j] = Half.toFloat(Scalars.load16(w, first + j)) }
                default:
                    UnsafeMutableRawPointer(x).copyMemory(from: src + 4 * first, byteCount: 4 * groupSize)
                }
                let words = UnsafeMutableBufferPointer(rebasing: packed[(g * wordsPerGroup)..<((g + 1) * wordsPerGroup)])
                let scale: Float, bias: Float
                if allFinite(x, groupSize) {
                    (scale, bias) = quantizeFinite(x, count: groupSize, bits: bits, into: words)
                } else if allowNonFinite {
                    (scale, bias) = quantizeFloats(UnsafeBufferPointer(buffer), bits: bits, into: words)
                } else {
                    return first + (firstNonFinite(x, groupSize) ?? 0)
                }
                storeScalar(scale, dtype, scales, g)
                storeScalar(bias, dtype, biases, g)
            }
            return nil
        }
    }

    /// mlx's per-group kernel on float32 values: returns the float32 scale and bias (before
    /// rounding to the weight dtype) and writes the codes LSB-first into `words`.
    @inline(__always)
    static func quantizeFloats(_ x: UnsafeBufferPointer<Float>, bits: Int,
                               into words: UnsafeMutableBufferPointer<UInt32>) -> (scale: Float, bias: Float) {
        let nBins = Float((1 << bits) - 1)
        let eps: Float = 1e-7
        var wMin = Float.infinity, wMax = -Float.infinity
        for v in x {
            wMax = wMax < v ? v : wMax   // std::max(w_max, v)
            wMin = v < wMin ? v : wMin   // std::min(w_min, v)
        }
        let mask = wMin.magnitude > wMax.magnitude
        var scale = (wMax - wMin) / nBins
        scale = scale < eps ? eps : scale
        scale = mask ? scale : -scale
        let edge = mask ? wMin : wMax
        let q0 = (edge / scale).rounded(.toNearestOrEven)
        var bias: Float = 0
        if q0 != 0 {
            scale = edge / q0
            bias = edge
        }
        var acc: UInt64 = 0
        var filled = 0
        var out = 0
        for v in x {
            var q = ((v - bias) / scale).rounded(.toNearestOrEven)
            q = q < 0 ? 0 : q          // std::max(q, 0.0f)
            q = nBins < q ? nBins : q  // std::min(q, n_bins)
            acc |= (q.isNaN ? 0 : UInt64(q)) << UInt64(filled)  // NaN only with allowNonFinite
            filled += bits
            if filled >= 32 {
                words[out] = UInt32(truncatingIfNeeded: acc)
                out += 1
                acc >>= 32
                filled -= 32
            }
        }
        return (scale, bias)
    }

    @inline(__always) static func storeScalar(_ v: Float, _ dtype: DType, _ p: UnsafeMutableRawBufferPointer, _ i: Int) {
        switch dtype {
        case .f16: Scalars.store(Half.fromFloat(v), p, i)
        case .bf16: Scalars.store(Half.bf16FromFloat(v), p, i)
        default: Scalars.store(v.bitPattern, p, i)
        }
    }

    /// Dequantizes into float32 values equal to `mx.dequantize`'s output (which is in `dtype`:
    /// `scale * q` and `+ bias` each rounded to it, as MLX's ops do for F16/BF16).
    public static func dequantize(packed: UnsafeRawBufferPointer, scales: UnsafeRawBufferPointer,
                                  biases: UnsafeRawBufferPointer, dtype: DType, shape: [Int],
                                  bits: Int, groupSize: Int,
                                  into dst: UnsafeMutableBufferPointer<Float>) throws(QuantizeError) {
        let (rows, k, groupsPerRow) = try AffineLimits.check(shape: shape, dtype: dtype, bits: bits, groupSize: groupSize)
        let elementSize = dtype.byteSize ?? 4
        let groups = rows * groupsPerRow
        guard packed.count == rows * k * bits / 8 else {
            throw QuantizeError(.shape("packed weights hold \(packed.count) bytes; shape \(shape) at \(bits) bits needs \(rows * k * bits / 8)"))
        }
        guard scales.count == groups * elementSize, biases.count == groups * elementSize else {
            throw QuantizeError(.shape("scales/biases hold \(scales.count)/\(biases.count) bytes; \(groups) groups of \(dtype.rawValue) need \(groups * elementSize)"))
        }
        guard dst.count == rows * k else {
            throw QuantizeError(.shape("destination holds \(dst.count) values; shape \(shape) has \(rows * k)"))
        }
        let buffers = UncheckedSendable((packed, scales, biases, dst))
        GGMLCodec.forChunks(blocks: groups, weightsPerBlock: groupSize) { lo, hi in
            let (packed, scales, biases, dst) = buffers.value
            let mask = (UInt64(1) << UInt64(bits)) - 1
            for g in lo..<hi {
                let scale = Scalars.loadAsFloat(scales, dtype, g), bias = Scalars.loadAsFloat(biases, dtype, g)
                let firstBit = g * groupSize * bits
                var acc: UInt64 = 0, have = 0
                var word = firstBit / 32
                for j in 0..<groupSize {
                    if have < bits {
                        acc |= UInt64(packed.u32(4 * word)) << UInt64(have)
                        word += 1
                        have += 32
                    }
                    let q = Float(acc & mask)
                    acc >>= UInt64(bits)
                    have -= bits
                    dst[g * groupSize + j] = dequantizedValue(scale, q, bias, dtype)
                }
            }
        }
    }

    @inline(__always) static func dequantizedValue(_ scale: Float, _ q: Float, _ bias: Float, _ dtype: DType) -> Float {
        switch dtype {
        case .f16: return Float(Float16(Float(Float16(scale * q)) + bias))
        case .bf16:
            let p = Half.bf16ToFloat(Half.bf16FromFloat(scale * q))
            return Half.bf16ToFloat(Half.bf16FromFloat(p + bias))
        default: return scale * q + bias
        }
    }
}
