// Sixteen 32-weight blocks side by side, one block per lane, for the legacy quantizers (Q4_0,
// Q8_0): a per-block reduction over 512 floats ends as one SIMD16 with a lane per block, so the
// per-block scalars (d, 1/d, fp16 rounding) are computed 16 at a time with the same float32
// operations the scalar ports do, lane by lane.
//
// The reduction is a transposing tree: block b's two vectors are combined into one, then
// vectors of neighbouring blocks are merged by halves, quarters and pairs, each merge one
// shuffle pair and one lanewise max (vpmaxsd or vpmaxud), and the last two partials of each
// block by a 64-bit rotate. The shuffles act on 64-bit lanes (`lowHalf`, `highHalf`,
// `evenHalf`, `oddHalf` of SIMD8/SIMD16<UInt64>), which compile to single vshufi64x2 and
// vpermt2q; on 32-bit lanes LLVM moved them through the max's select and its mask, which
// was seen to turn the tree into hundreds of per-lane loads and mask moves, and loops over
// subscripts become stack round trips.
//
// The result's lanes are interleaved: lane 2k holds block k and lane 2k + 1 block k + 8
// (`blockLane`), which saves the last 32-bit shuffle.

/// A lanewise maximum whose per-block value is wanted, over each element's `key`.
protocol LaneMax {
    /// What is compared for one element, from its bit pattern.
    static func key(_ bits: SIMD16<Int32>) -> SIMD16<Int32>
    /// The larger of two keys on every lane.
    static func max(_ a: SIMD16<Int32>, _ b: SIMD16<Int32>) -> SIMD16<Int32>
}

/// The largest bit pattern read as Int32: where a block has an element with the sign bit
/// clear, the largest such element's bits (finite values order like their bits; NaN and +Inf
/// are above them all).
enum SignedBitsMax: LaneMax {
    @inline(__always) static func key(_ bits: SIMD16<Int32>) -> SIMD16<Int32> { bits }
    @inline(__always) static func max(_ a: SIMD16<Int32>, _ b: SIMD16<Int32>) -> SIMD16<Int32> {
        a.replacing(with: b, where: b .> a)
    }
}

/// The largest bit pattern read as UInt32: where a block has an element with the sign bit set,
/// the bits of the one of largest magnitude (NaN and −Inf are above them all).
enum UnsignedBitsMax: LaneMax {
    @inline(__always) static func key(_ bits: SIMD16<Int32>) -> SIMD16<Int32> { bits }
    @inline(__always) static func max(_ a: SIMD16<Int32>, _ b: SIMD16<Int32>) -> SIMD16<Int32> {
        let x = unsafeBitCast(a, to: SIMD16<UInt32>.self)
        let y = unsafeBitCast(b, to: SIMD16<UInt32>.self)
        return unsafeBitCast(x.replacing(with: y, where: y .> x), to: SIMD16<Int32>.self)
    }
}

/// The largest |x|'s bits (sign cleared): for finite floats they order like |x|, and NaN or
/// Inf is at least 0x7f80_0000.
enum MagnitudeMax: LaneMax {
    @inline(__always) static func key(_ bits: SIMD16<Int32>) -> SIMD16<Int32> { bits & 0x7fff_ffff }
    @inline(__always) static func max(_ a: SIMD16<Int32>, _ b: SIMD16<Int32>) -> SIMD16<Int32> {
        a.replacing(with: b, where: b .> a)
    }
}

/// The 16 Int32 lanes as 8 UInt64 lanes (pairs of neighbours), and back.
@inline(__always) func wide(_ v: SIMD16<Int32>) -> SIMD8<UInt64> {
    unsafeBitCast(v, to: SIMD8<UInt64>.self)
}

@inline(__always) func narrow(_ v: SIMD8<UInt64>) -> SIMD16<Int32> {
    unsafeBitCast(v, to: SIMD16<Int32>.self)
}

/// Block `b`'s 32 keys (of the 16 blocks at `p`) folded to 16 partials.
@inline(__always)
func leaf16<M: LaneMax>(_: M.Type, _ p: UnsafeRawPointer, _ b: Int) -> SIMD16<Int32> {
    M.max(M.key(p.loadUnaligned(fromByteOffset: 128 * b, as: SIMD16<Int32>.self)),
          M.key(p.loadUnaligned(fromByteOffset: 128 * b + 64, as: SIMD16<Int32>.self)))
}

/// Blocks 2i and 2i+1: 8 partials each (lanes 0-7, 8-15).
@inline(__always)
func level1<M: LaneMax>(_: M.Type, _ p: UnsafeRawPointer, _ i: Int) -> SIMD16<Int32> {
    let a = wide(leaf16(M.self, p, 2 * i)), b = wide(leaf16(M.self, p, 2 * i + 1))
    return M.max(narrow(SIMD8(lowHalf: a.lowHalf, highHalf: b.lowHalf)),
                 narrow(SIMD8(lowHalf: a.highHalf, highHalf: b.highHalf)))
}

/// Blocks 4i to 4i+3: 4 partials each.
@inline(__always)
func level2<M: LaneMax>(_: M.Type, _ p: UnsafeRawPointer, _ i: Int) -> SIMD16<Int32> {
    let a = wide(level1(M.self, p, 2 * i)), b = wide(level1(M.self, p, 2 * i + 1))
    let lo = SIMD8(lowHalf: SIMD4(lowHalf: a.lowHalf.lowHalf, highHalf: a.highHalf.lowHalf),
                   highHalf: SIMD4(lowHalf: b.lowHalf.lowHalf, highHalf: b.highHalf.lowHalf))
    let hi = SIMD8(lowHalf: SIMD4(lowHalf: a.lowHalf.highHalf, highHalf: a.highHalf.highHalf),
                   highHalf: SIMD4(lowHalf: b.lowHalf.highHalf, highHalf: b.highHalf.highHalf))
    return M.max(narrow(lo), narrow(hi))
}

/// Blocks 8i to 8i+7, then folded: both halves of 64-bit lane k hold block 8i + k's maximum.
@inline(__always)
func level3<M: LaneMax>(_: M.Type, _ p: UnsafeRawPointer, _ i: Int) -> SIMD8<UInt64> {
    let both = SIMD16<UInt64>(lowHalf: wide(level2(M.self, p, 2 * i)),
                              highHalf: wide(level2(M.self, p, 2 * i + 1)))
    let pairs = wide(M.max(narrow(both.evenHalf), narrow(both.oddHalf)))  // 2 partials per block
    return wide(M.max(narrow(pairs), narrow((pairs &<< 32) | (pairs &>> 32))))
}

/// The largest key of `M` in each of the 16 blocks of 32 floats at `p`: block b's is in lane
/// `blockLane(b)` (2b for the first 8, 2(b − 8) + 1 for the others).
@inline(__always)
func blockMax16<M: LaneMax>(_: M.Type, _ p: UnsafePointer<Float>) -> SIMD16<Int32> {
    let raw = UnsafeRawPointer(p)
    return narrow((level3(M.self, raw, 0) & 0xffff_ffff) | (level3(M.self, raw, 1) &<< 32))
}

/// The lane of `blockMax16`'s result that holds block `b` (0 ..< 16).
@inline(__always) func blockLane(_ b: Int) -> Int { (b & 7) << 1 | b >> 3 }

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
