// Sixteen 32-weight blocks side by side, one block per lane, for the legacy quantizers (Q4_0,
// Q8_0): a per-block reduction over 512 floats ends as one SIMD16 whose lane b belongs to block
// b, so the per-block scalars (d, 1/d, fp16 rounding) are computed 16 at a time with the same
// float32 operations the scalar ports do, lane by lane.
//
// The reduction is a transposing tree: block b's two vectors are combined into one, then
// vectors of neighbouring blocks are merged by halves, quarters, pairs and single lanes (four
// levels, 15 merges), each merge one shuffle pair and one lanewise max. Only `lowHalf`,
// `highHalf`, `evenHalf`, `oddHalf` and the half-building inits appear: they compile to
// single shuffles (vshufi64x2, vpermt2q, vpermt2d), where loops over subscripts were seen to
// become stack round trips.

/// A per-element key whose per-block maximum is wanted: a non-negative Int32 for every bit
/// pattern (so the maximum can be taken with integer arithmetic, without overflow).
protocol MagnitudeKey {
    static func key(_ bits: SIMD16<Int32>) -> SIMD16<Int32>
}

/// |x|'s bits (sign cleared): for finite floats they order like |x|, and NaN/Inf is at least
/// 0x7f80_0000.
enum Magnitude: MagnitudeKey {
    @inline(__always) static func key(_ bits: SIMD16<Int32>) -> SIMD16<Int32> { bits & 0x7fff_ffff }
}

/// |x|'s bits for x with the sign bit clear (+0 included), 0 for the others.
enum PositiveMagnitude: MagnitudeKey {
    @inline(__always) static func key(_ bits: SIMD16<Int32>) -> SIMD16<Int32> {
        bits & ~signMask(bits)
    }
}

/// |x|'s bits for x with the sign bit set (−0 included), 0 for the others.
enum NegativeMagnitude: MagnitudeKey {
    @inline(__always) static func key(_ bits: SIMD16<Int32>) -> SIMD16<Int32> {
        bits & signMask(bits) & 0x7fff_ffff
    }
}

/// max(a, b) on every lane, for non-negative lanes (b − a cannot overflow). Arithmetic rather
/// than `replacing(with:where:)`: LLVM moves the tree's shuffles through selects and their
/// masks, which was seen to turn the reduction into hundreds of per-lane loads; it compiles
/// this to vpsubd, vpmaxsd (with zero), vpaddd.
@inline(__always) func maxNonNegative(_ a: SIMD16<Int32>, _ b: SIMD16<Int32>) -> SIMD16<Int32> {
    let d = b &- a
    return a &+ (d & ~signMask(d))
}

/// Block `b`'s 32 keys (of the 16 blocks at `p`) folded to 16 partials.
@inline(__always)
func leaf16<K: MagnitudeKey>(_: K.Type, _ p: UnsafeRawPointer, _ b: Int) -> SIMD16<Int32> {
    maxNonNegative(K.key(p.loadUnaligned(fromByteOffset: 128 * b, as: SIMD16<Int32>.self)),
                   K.key(p.loadUnaligned(fromByteOffset: 128 * b + 64, as: SIMD16<Int32>.self)))
}

/// Blocks 2i and 2i+1: 8 partials each (lanes 0-7, 8-15).
@inline(__always)
func level1<K: MagnitudeKey>(_: K.Type, _ p: UnsafeRawPointer, _ i: Int) -> SIMD16<Int32> {
    let a = leaf16(K.self, p, 2 * i), b = leaf16(K.self, p, 2 * i + 1)
    return maxNonNegative(SIMD16(lowHalf: a.lowHalf, highHalf: b.lowHalf),
                          SIMD16(lowHalf: a.highHalf, highHalf: b.highHalf))
}

/// Blocks 4i to 4i+3: 4 partials each.
@inline(__always)
func level2<K: MagnitudeKey>(_: K.Type, _ p: UnsafeRawPointer, _ i: Int) -> SIMD16<Int32> {
    let a = level1(K.self, p, 2 * i), b = level1(K.self, p, 2 * i + 1)
    let lo = SIMD16(lowHalf: SIMD8(lowHalf: a.lowHalf.lowHalf, highHalf: a.highHalf.lowHalf),
                    highHalf: SIMD8(lowHalf: b.lowHalf.lowHalf, highHalf: b.highHalf.lowHalf))
    let hi = SIMD16(lowHalf: SIMD8(lowHalf: a.lowHalf.highHalf, highHalf: a.highHalf.highHalf),
                    highHalf: SIMD8(lowHalf: b.lowHalf.highHalf, highHalf: b.highHalf.highHalf))
    return maxNonNegative(lo, hi)
}

/// Blocks 8i to 8i+7: 2 partials each (the even and odd 64-bit lanes of the pair).
@inline(__always)
func level3<K: MagnitudeKey>(_: K.Type, _ p: UnsafeRawPointer, _ i: Int) -> SIMD16<Int32> {
    let a = level2(K.self, p, 2 * i), b = level2(K.self, p, 2 * i + 1)
    let both = SIMD16<UInt64>(lowHalf: unsafeBitCast(a, to: SIMD8<UInt64>.self),
                              highHalf: unsafeBitCast(b, to: SIMD8<UInt64>.self))
    return maxNonNegative(unsafeBitCast(both.evenHalf, to: SIMD16<Int32>.self),
                          unsafeBitCast(both.oddHalf, to: SIMD16<Int32>.self))
}

/// The largest key `K` of each of the 16 blocks of 32 floats at `p`: lane b holds block b's.
@inline(__always)
func blockMax16<K: MagnitudeKey>(_: K.Type, _ p: UnsafePointer<Float>) -> SIMD16<Int32> {
    let raw = UnsafeRawPointer(p)
    let both = SIMD32(lowHalf: level3(K.self, raw, 0), highHalf: level3(K.self, raw, 1))
    return maxNonNegative(both.evenHalf, both.oddHalf)
}

/// −1 on the lanes where `v` < 0, 0 elsewhere.
@inline(__always) func signMask(_ v: SIMD16<Int32>) -> SIMD16<Int32> { v &>> 31 }

/// The float32 → fp16 rounding of every lane, the same bits as `Half.fromFloat` lane by lane
/// (round to nearest even, subnormals and overflow to ±Inf included). Built lane by lane so
/// LLVM folds it into one vcvtps2ph; `SIMD16<Float16>(x)` is an out-of-line call.
@inline(__always) func halfBits(_ x: SIMD16<Float>) -> SIMD16<UInt16> {
    @inline(__always) func h(_ i: Int) -> UInt16 { Half.fromFloat(x[i]) }
    return SIMD16(h(0), h(1), h(2), h(3), h(4), h(5), h(6), h(7),
                  h(8), h(9), h(10), h(11), h(12), h(13), h(14), h(15))
}

/// The low byte of every lane. Built lane by lane so LLVM folds it into one vpmovdb;
/// `SIMD16<UInt8>(truncatingIfNeeded:)` is an out-of-line call.
@inline(__always) func lowBytes(_ v: SIMD16<Int32>) -> SIMD16<UInt8> {
    @inline(__always) func b(_ i: Int) -> UInt8 { UInt8(truncatingIfNeeded: v[i]) }
    return SIMD16(b(0), b(1), b(2), b(3), b(4), b(5), b(6), b(7),
                  b(8), b(9), b(10), b(11), b(12), b(13), b(14), b(15))
}

/// True when some lane is negative (an OR folded down by halves; `any(_:)` is a call).
@inline(__always) func anyNegative(_ v: SIMD16<Int32>) -> Bool {
    let v8 = v.lowHalf | v.highHalf
    let v4 = v8.lowHalf | v8.highHalf
    let v2 = v4.lowHalf | v4.highHalf
    return (v2[0] | v2[1]) < 0
}

/// `1 / d` on every lane, and 0 where d is ±0: the scalar ports' `d != 0 ? 1 / d : 0`.
@inline(__always) func inverseOrZero(_ d: SIMD16<Float>) -> SIMD16<Float> {
    let magnitude = unsafeBitCast(d, to: SIMD16<Int32>.self) & 0x7fff_ffff
    let zero = signMask(magnitude &- 1)  // −1 where |d| bits are 0
    let inverse = unsafeBitCast(1 / d, to: SIMD16<Int32>.self)
    return unsafeBitCast(inverse & ~zero, to: SIMD16<Float>.self)
}

/// −1 on the lanes whose float is ±Inf or NaN (an all-ones exponent), 0 elsewhere.
@inline(__always) func nonFiniteMask(_ x: SIMD16<Float>) -> SIMD16<Int32> {
    let magnitude = unsafeBitCast(x, to: SIMD16<Int32>.self) & 0x7fff_ffff
    return ~signMask(magnitude &- 0x7f80_0000)
}

/// The 16 floats at `p` (any alignment).
@inline(__always) func load16(_ p: UnsafePointer<Float>) -> SIMD16<Float> {
    UnsafeRawPointer(p).loadUnaligned(as: SIMD16<Float>.self)
}
