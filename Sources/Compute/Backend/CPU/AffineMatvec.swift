/// The 4-bit MLX affine matrix-vector product (decode-time linear layers), at memory speed.
///
/// Per group, `Σ w·x = scale · Σ q·x + bias · Σ x`. Everything that depends on x alone is
/// prepared once per product instead of once per row: x is reordered so that the low and
/// high nibbles of 16 packed bytes meet 16 contiguous floats each (no lane shuffles in the
/// loop), and each group's `Σ x` is summed once. A row is then one pass over its packed
/// bytes: 16 bytes → 32 codes widened in SIMD lanes, multiplied and accumulated in 16 float
/// lanes, scaled per group; the scales are decoded before the pass (no libm half-float calls
/// in it). The order of every sum is fixed, so results do not depend on threads.
extension AffineRows {
    /// 4-bit codes in groups of whole 16-byte chunks: the layout the fast path reads.
    var hasFastMatvec: Bool { bits == 4 && groupSize % 32 == 0 }

    /// Floats of scratch `matvec(row:…)` needs for the decoded scales and biases.
    var matvecScratchCount: Int { 2 * groups }

    /// Reorders `x` (`columns` floats) into `xs` (`columns`): per 32 codes, the 16 inputs of
    /// the low nibbles then the 16 of the high ones; writes each group's `Σ x` to `sums`.
    func prepareMatvec(
        _ x: UnsafePointer<Float>, xs: UnsafeMutablePointer<Float>,
        sums: UnsafeMutablePointer<Float>
    ) {
        // Byte j of a chunk holds codes 2j (low nibble) and 2j + 1 (high nibble).
        var c = 0
        while c < columns {
            for j in 0..<16 {
                xs[c + j] = x[c + 2 * j]
                xs[c + 16 + j] = x[c + 2 * j + 1]
            }
            c += 32
        }
        for g in 0..<groups {
            var acc = SIMD16<Float>(repeating: 0)
            var i = g * groupSize
            while i < (g + 1) * groupSize {
                acc += UnsafeRawPointer(x + i).loadUnaligned(as: SIMD16<Float>.self)
                i += 16
            }
            sums[g] = acc.sum()
        }
    }

    /// `row · x`, with `xs` and `sums` from `prepareMatvec(x, …)`; `scratch` holds
    /// `matvecScratchCount` floats.
    func matvec(
        row: Int, xs: UnsafePointer<Float>, sums: UnsafePointer<Float>,
        scratch: UnsafeMutablePointer<Float>
    ) -> Float {
        precondition(hasFastMatvec && row >= 0 && row < rows)
        // In bounds: init checked packed = rows × packedRowBytes, scales = rows × groups.
        decodeScales(row: row, into: scratch)
        let s = UnsafePointer(scratch), b = UnsafePointer(scratch + groups)
        let base = UnsafeRawPointer(packed.raw.baseAddress.unsafelyUnwrapped) + row * packedRowBytes
        let chunks = groupSize / 32
        var acc = SIMD16<Float>(repeating: 0)
        var p = base
        var xp = xs
        for g in 0..<groups {
            var a = SIMD16<Float>(repeating: 0)
            for _ in 0..<chunks {
                let v = p.loadUnaligned(as: SIMD16<UInt8>.self)
                let lo = SIMD16<Float>(v & 0xF), hi = SIMD16<Float>(v &>> 4)
                a += UnsafeRawPointer(xp).loadUnaligned(as: SIMD16<Float>.self) * lo
                a += UnsafeRawPointer(xp + 16).loadUnaligned(as: SIMD16<Float>.self) * hi
                p += 16
                xp += 32
            }
            acc += a * s[g]
        }
        var bias = SIMD16<Float>(repeating: 0)
        var g = 0
        while g + 16 <= groups {
            bias +=
                UnsafeRawPointer(b + g).loadUnaligned(as: SIMD16<Float>.self)
                * UnsafeRawPointer(sums + g).loadUnaligned(as: SIMD16<Float>.self)
            g += 16
        }
        var tail: Float = 0
        while g < groups {
            tail += b[g] * sums[g]
            g += 1
        }
        return acc.sum() + (bias.sum() + tail)
    }

    /// The row's scales then biases as floats (`2 · groups`), exactly as `scalar` reads them.
    @inline(__always)
    func decodeScales(row: Int, into out: UnsafeMutablePointer<Float>) {
        let first = row * groups
        switch scaleDType {
        case .f16:
            let sp = scales.raw.baseAddress.unsafelyUnwrapped
            let bp = biases.raw.baseAddress.unsafelyUnwrapped
            for g in 0..<groups {
                out[g] = Self.half(sp.loadUnaligned(fromByteOffset: 2 * (first + g), as: UInt16.self))
                out[groups + g] = Self.half(
                    bp.loadUnaligned(fromByteOffset: 2 * (first + g), as: UInt16.self))
            }
        default:
            for g in 0..<groups {
                out[g] = scalar(scales, first + g)
                out[groups + g] = scalar(biases, first + g)
            }
        }
    }

    /// IEEE half bits (little-endian in the file) to Float, exactly as `Float(Float16)`:
    /// the exponent is rebiased by a multiply by 2^112 (exact, subnormals included) instead
    /// of a compiler-rt call per value on CPUs compiled without F16C.
    @inline(__always)
    static func half(_ stored: UInt16) -> Float {
        let h = UInt16(littleEndian: stored)
        let em = UInt32(h & 0x7fff), sign = UInt32(h & 0x8000) << 16
        if em >= 0x7c00 {
            // Inf keeps a zero mantissa; NaN keeps its payload and becomes quiet.
            let nan: UInt32 = em > 0x7c00 ? 0x0040_0000 : 0
            return Float(bitPattern: sign | 0x7f80_0000 | ((em & 0x3ff) << 13) | nan)
        }
        return Float(bitPattern: (Float(bitPattern: em << 13) * 0x1p112).bitPattern | sign)
    }
}
