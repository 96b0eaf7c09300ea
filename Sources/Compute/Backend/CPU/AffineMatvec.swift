import CKernels

/// The 4-bit MLX affine matrix-vector product (decode-time linear layers), at memory speed.
///
/// Per group, `Σ w·x = scale · Σ q·x + bias · Σ x`. Everything that depends on x alone is
/// prepared once per product instead of once per row: x is reordered so that the low and
/// high nibbles of 16 packed bytes meet 16 contiguous floats each (no lane shuffles in the
/// loop), and each group's `Σ x` is summed once. A row is then one pass over its packed
/// bytes: 16 bytes → 32 codes widened in vector lanes, multiplied and accumulated in 16 float
/// lanes, scaled per group (CKernels' `ck_affine4_matvec`). The order of every sum is fixed,
/// so results do not depend on threads.
extension AffineRows {
    /// 4-bit codes in groups of whole 16-byte chunks: the layout the fast path reads.
    var hasFastMatvec: Bool { bits == 4 && groupSize % 32 == 0 }

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

    /// `out[r] = row r · x` for `rows`, with `xs` and `sums` from `prepareMatvec(x, …)`: one
    /// pass over each row's packed bytes in CKernels' vector loop (AVX-512 where the CPU has
    /// it), scales and biases decoded in registers.
    func matvec(
        rows range: Range<Int>, xs: UnsafePointer<Float>, sums: UnsafePointer<Float>,
        into out: UnsafeMutablePointer<Float>
    ) {
        precondition(hasFastMatvec && range.lowerBound >= 0 && range.upperBound <= rows)
        // In bounds: init checked packed = rows × packedRowBytes, scales = rows × groups.
        let kind: ck_scale_type
        switch scaleDType {
        case .f16: kind = CK_SCALES_F16
        case .bf16: kind = CK_SCALES_BF16
        default: kind = CK_SCALES_F32
        }
        ck_affine4_matvec(
            packed.raw.baseAddress?.assumingMemoryBound(to: UInt8.self), packedRowBytes,
            scales.raw.baseAddress, biases.raw.baseAddress, kind, groups, groupSize, xs, sums,
            range.lowerBound, range.upperBound, out)
    }
}
