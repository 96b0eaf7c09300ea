import Formats

/// Vector kernels for the four conversions a checkpoint conversion spends its time in:
/// F32 → BF16, F32 → F16, F16 → F32 and BF16 → F32.
///
/// Why: the scalar path costs a libcall per element for F16 (`__truncsfhf2`: the baseline
/// x86-64 target has no F16C) and does not vectorize for BF16, which held conversions to
/// ~1 GB/s. These kernels use integer SIMD only (SSE2 at the baseline target, wider when the
/// compiler may) and give the scalar path's bits exactly, for every input: round to nearest
/// even, subnormals, overflow to ±inf, NaN kept NaN with the scalar path's payload (see
/// ScalarsSIMDTests, exhaustive over all 2^16 16-bit inputs).
extension Scalars {
    /// Lanes per step: 16 × 4 bytes is one cache line of F32 input.
    typealias Lanes = SIMD16<UInt32>
    typealias Halves = SIMD16<UInt16>

    /// Converts elements lo..<hi with a vector kernel when one exists for (from, to) on this
    /// platform; returns false (having done nothing) otherwise.
    @inline(__always)
    static func convertRangeSIMD(
        _ src: UnsafeRawBufferPointer, _ from: DType, _ to: DType,
        _ dst: UnsafeMutableRawBufferPointer, _ lo: Int, _ hi: Int
    ) -> Bool {
        #if _endian(little)
        switch (from, to) {
        case (.f32, .bf16): narrowF32(src, dst, lo, hi, bf16FromF32, Half.bf16FromFloat)
        case (.f32, .f16): narrowF32(src, dst, lo, hi, f16FromF32, Half.fromFloat)
        case (.f16, .f32): widen16(src, dst, lo, hi, f32FromF16, Half.toFloat)
        case (.bf16, .f32): widen16(src, dst, lo, hi, f32FromBF16, Half.bf16ToFloat)
        default: return false
        }
        return true
        #else
        return false
        #endif
    }

    /// Runs `vector` over whole steps of 16 elements and `scalar` over the tail.
    @inline(__always)
    static func narrowF32(
        _ src: UnsafeRawBufferPointer, _ dst: UnsafeMutableRawBufferPointer, _ lo: Int, _ hi: Int,
        _ vector: (Lanes) -> Halves, _ scalar: (Float) -> UInt16
    ) {
        guard lo < hi, let s = src.baseAddress, let d = dst.baseAddress else { return }
        var i = lo
        while i + Lanes.scalarCount <= hi {
            let v = s.loadUnaligned(fromByteOffset: 4 * i, as: Lanes.self)
            d.storeBytes(of: vector(v), toByteOffset: 2 * i, as: Halves.self)
            i += Lanes.scalarCount
        }
        while i < hi {
            let x = Float(bitPattern: s.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self))
            d.storeBytes(of: scalar(x), toByteOffset: 2 * i, as: UInt16.self)
            i += 1
        }
    }

    /// Runs `vector` over whole steps of 16 elements and `scalar` over the tail.
    @inline(__always)
    static func widen16(
        _ src: UnsafeRawBufferPointer, _ dst: UnsafeMutableRawBufferPointer, _ lo: Int, _ hi: Int,
        _ vector: (Halves) -> Lanes, _ scalar: (UInt16) -> Float
    ) {
        guard lo < hi, let s = src.baseAddress, let d = dst.baseAddress else { return }
        var i = lo
        while i + Halves.scalarCount <= hi {
            let v = s.loadUnaligned(fromByteOffset: 2 * i, as: Halves.self)
            d.storeBytes(of: vector(v), toByteOffset: 4 * i, as: Lanes.self)
            i += Halves.scalarCount
        }
        while i < hi {
            let h = s.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)
            d.storeBytes(of: scalar(h).bitPattern, toByteOffset: 4 * i, as: UInt32.self)
            i += 1
        }
    }

    /// F32 bits → BF16 bits, as `Half.bf16FromFloat`: RNE by adding 0x7fff plus the lowest
    /// kept bit; a NaN is truncated with its quiet bit (0x40 in BF16) set.
    @inline(__always)
    static func bf16FromF32(_ u: Lanes) -> Halves {
        let isNaN = greater(u & 0x7fff_ffff, Lanes(repeating: 0x7f80_0000))
        let rounded = (u &+ (0x7fff &+ ((u &>> 16) & 1))) &>> 16
        let nan = (u &>> 16) | 0x40
        return Halves(truncatingIfNeeded: select(isNaN, nan, rounded))
    }

    /// F32 bits → F16 bits, as `Float16(x)` (IEEE RNE): F. Giesen's float_to_half_fast3_rtne
    /// with the NaN payload kept as compiler-rt and F16C keep it (top 9 mantissa bits, quiet).
    @inline(__always)
    static func f16FromF32(_ bits: Lanes) -> Halves {
        let sign = (bits &>> 16) & 0x8000
        let f = bits & 0x7fff_ffff
        // Normal results: rebias, add 0xfff plus the lowest kept bit, shift (RNE; a carry
        // into the exponent is the right answer, up to 0x7c00 = inf).
        let odd = (f &>> 13) & 1
        let normal = (f &+ (UInt32(bitPattern: (15 - 127) << 23) &+ 0xfff) &+ odd) &>> 13
        // Subnormal results (|x| < 2^-14): adding 0.5 as a float rounds x to a multiple of
        // 2^-24 (RNE, by the FPU); the low bits are then the F16 mantissa.
        let magic: UInt32 = 126 << 23
        let sum = SIMD16<Float>(bitPattern: f) + SIMD16<Float>(bitPattern: Lanes(repeating: magic))
        let subnormal = Lanes(bitPattern: sum) &- magic
        // Too large for F16 (≥ 65520 rounds to inf), inf, NaN.
        let nan = 0x7e00 | ((f & 0x3f_ffff) &>> 13)
        var out = select(greater(Lanes(repeating: 113 << 23), f), subnormal, normal)
        out = select(greater(f, Lanes(repeating: (143 << 23) - 1)), Lanes(repeating: 0x7c00), out)
        out = select(greater(f, Lanes(repeating: 0x7f80_0000)), nan, out)
        return Halves(truncatingIfNeeded: out | sign)
    }

    /// F16 bits → F32 bits (exact), as `Float(Float16(bitPattern:))`: F. Giesen's
    /// half_to_float; inf/NaN keep their payload shifted (a NaN made quiet), subnormals are
    /// normalized by one exact float subtraction.
    @inline(__always)
    static func f32FromF16(_ h16: Halves) -> Lanes {
        let h = Lanes(truncatingIfNeeded: h16)
        let shifted = (h & 0x7fff) &<< 13
        let exponent = shifted & (0x7c00 << 13)
        let normal = shifted &+ ((127 - 15) << 23)
        let special = normal &+ ((128 - 16) << 23)
        let magic: UInt32 = 113 << 23
        let difference = SIMD16<Float>(bitPattern: normal &+ (1 << 23))
            - SIMD16<Float>(bitPattern: Lanes(repeating: magic))
        let infOrNaN = greater(exponent, Lanes(repeating: (0x7c00 << 13) - 1))
        let zeroOrSubnormal = greater(Lanes(repeating: 1), exponent)
        let out = select(zeroOrSubnormal, Lanes(bitPattern: difference), select(infOrNaN, special, normal))
        // A NaN comes out quiet, as compiler-rt's __extendhfsf2 (and F16C) make it.
        let quiet = greater(h & 0x7fff, Lanes(repeating: 0x7c00)) & 0x0040_0000
        return out | quiet | ((h & 0x8000) &<< 16)
    }

    /// All ones in the lanes where `a > b`, zero elsewhere; both below 2^31 (so `b - a`
    /// is negative exactly when `a > b`). Arithmetic rather than `.>` and `replacing`, whose
    /// generic lane-by-lane code does not vectorize.
    @inline(__always)
    static func greater(_ a: Lanes, _ b: Lanes) -> Lanes {
        Lanes(repeating: 0) &- ((b &- a) &>> 31)
    }

    /// `a` where `mask` is all ones, `b` where it is zero.
    @inline(__always)
    static func select(_ mask: Lanes, _ a: Lanes, _ b: Lanes) -> Lanes {
        (a & mask) | (b & ~mask)
    }

    /// BF16 bits → F32 bits (exact): the upper half of the word.
    @inline(__always)
    static func f32FromBF16(_ h: Halves) -> Lanes {
        Lanes(truncatingIfNeeded: h) &<< 16
    }
}

extension SIMD16 where Scalar == Float {
    /// Reinterprets 16 words as 16 floats.
    @inline(__always)
    init(bitPattern u: SIMD16<UInt32>) {
        self = unsafeBitCast(u, to: SIMD16<Float>.self)
    }
}

extension SIMD16 where Scalar == UInt32 {
    /// Reinterprets 16 floats as 16 words.
    @inline(__always)
    init(bitPattern f: SIMD16<Float>) {
        self = unsafeBitCast(f, to: SIMD16<UInt32>.self)
    }
}
