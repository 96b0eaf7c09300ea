import Testing
import Formats
@testable import Quantize

/// The vector kernels of `Scalars+SIMD.swift` against the scalar conversions they replace:
/// bit for bit, NaN payloads included.
@Suite("Scalars SIMD")
struct ScalarsSIMDTests {
    /// Runs `convertRangeSIMD` over the whole buffer (lo = 0) and returns the output bytes.
    func simd(_ src: [UInt8], _ from: DType, _ to: DType) throws -> [UInt8] {
        let n = src.count / from.byteSize!
        var out = [UInt8](repeating: 0xAA, count: n * to.byteSize!)
        let done = src.withUnsafeBytes { s in
            out.withUnsafeMutableBytes { d in Scalars.convertRangeSIMD(s, from, to, d, 0, n) }
        }
        try #require(done, "no vector kernel for \(from.rawValue) → \(to.rawValue)")
        return out
    }

    @Test("F16 and BF16 → F32: every one of the 2^16 inputs gives the scalar path's bits",
          arguments: [DType.f16, .bf16])
    func exhaustiveWiden(_ from: DType) throws {
        let inputs = (0...UInt16.max).map { $0 }
        let bytes = inputs.withUnsafeBytes { Array($0) }
        let out = try simd(bytes, from, .f32)
        var mismatches: [String] = []
        out.withUnsafeBytes { o in
            for (i, h) in inputs.enumerated() {
                let want = (from == .f16 ? Half.toFloat(h) : Half.bf16ToFloat(h)).bitPattern
                let got = o.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self)
                if got != want, mismatches.count < 5 {
                    mismatches.append("0x\(String(h, radix: 16)): got 0x\(String(got, radix: 16)), want 0x\(String(want, radix: 16))")
                }
            }
        }
        #expect(mismatches.isEmpty, "\(mismatches)")
    }

    /// Edge cases of F32 → F16/BF16 rounding: zeros, subnormal boundaries, ties, the largest
    /// finite values and what overflows, infinities, quiet and signalling NaNs with payloads.
    static let edgeBits: [UInt32] = {
        var b: [UInt32] = [
            0, 0x8000_0000, 1, 0x0000_0fff, 0x007f_ffff, 0x0080_0000,
            0x3380_0000, 0x3380_0001, 0x3300_0000, 0x3300_0001, 0x32ff_ffff,  // 2^-24, 2^-25 ties
            0x387f_e000, 0x387f_f000, 0x387f_efff, 0x3880_0000, 0x3880_1000,  // F16 subnormal/normal edge
            0x3f80_0000, 0x3f80_1000, 0x3f80_3000, 0x3f80_0fff, 0x3f80_8000, 0x3f81_8000,  // ties to even
            0x477f_e000, 0x477f_efff, 0x477f_f000, 0x477f_ffff, 0x4780_0000,  // 65504 .. 65536
            0x7f7f_ffff, 0x7f7f_8000, 0x7f7f_7fff,  // FLT_MAX rounds up to inf in BF16
            0x7f80_0000, 0xff80_0000, 0x7f80_0001, 0x7fc0_0000, 0xffc0_0000, 0x7fa0_0000,
            0x7f80_2000, 0x7fff_ffff, 0xff80_0001, 0x7f81_0000,
        ]
        b += b.map { $0 ^ 0x8000_0000 }
        return b
    }()

    @Test("F32 → F16 and BF16: edge cases and 2^20 random bit patterns give the scalar path's bits",
          arguments: [DType.f16, .bf16])
    func narrow(_ to: DType) throws {
        var rng = SplitMix(seed: 0x5eed)
        var inputs = Self.edgeBits
        for _ in 0..<(1 << 20) { inputs.append(UInt32(truncatingIfNeeded: rng.next())) }
        // Values near F16's range, where the exponent decides the path taken.
        for _ in 0..<(1 << 18) {
            let r = rng.next()
            let exponent = UInt32(100 + r % 50) << 23
            inputs.append(UInt32(truncatingIfNeeded: r >> 32) & 0x807f_ffff | exponent)
        }
        // An odd count, so the scalar tail runs too.
        inputs.append(0x3f80_1000)
        let bytes = inputs.withUnsafeBytes { Array($0) }
        let out = try simd(bytes, .f32, to)
        var mismatches: [String] = []
        out.withUnsafeBytes { o in
            for (i, u) in inputs.enumerated() {
                let x = Float(bitPattern: u)
                let want = to == .f16 ? Half.fromFloat(x) : Half.bf16FromFloat(x)
                let got = o.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)
                if got != want, mismatches.count < 5 {
                    mismatches.append("0x\(String(u, radix: 16)): got 0x\(String(got, radix: 16)), want 0x\(String(want, radix: 16))")
                }
            }
        }
        #expect(mismatches.isEmpty, "\(mismatches)")
    }

    @Test("F32 → F16 is exact on every F16 value, widened (the round trip is the identity)")
    func roundTrip() throws {
        let halves = (0...UInt16.max).map { $0 }
        let wide = try simd(halves.withUnsafeBytes { Array($0) }, .f16, .f32)
        let back = try simd(wide, .f32, .f16)
        let out = back.withUnsafeBytes { Array($0.bindMemory(to: UInt16.self)) }
        for (h, o) in zip(halves, out) where h != o {
            // A signalling NaN comes back quiet, as from the scalar path.
            #expect(h & 0x7c00 == 0x7c00 && h & 0x3ff != 0 && o == h | 0x200, "0x\(String(h, radix: 16))")
        }
    }

    @Test("an offset range (lo > 0, unaligned ends) converts exactly that range")
    func subrange() throws {
        let values = (0..<100).map { Float($0) * 1.5 + 0.1 }
        let bytes = values.withUnsafeBytes { Array($0) }
        var out = [UInt16](repeating: 0xBEEF, count: 100)
        let done = bytes.withUnsafeBytes { s in
            out.withUnsafeMutableBytes { d in Scalars.convertRangeSIMD(s, .f32, .bf16, d, 3, 97) }
        }
        #expect(done)
        #expect(out[0..<3].allSatisfy { $0 == 0xBEEF } && out[97...].allSatisfy { $0 == 0xBEEF })
        #expect((3..<97).allSatisfy { out[$0] == Half.bf16FromFloat(values[$0]) })
    }
}

/// A small deterministic generator (SplitMix64) for reproducible inputs.
private struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9e37_79b9_7f4a_7c15
        var z = state
        z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
        z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
        return z ^ (z >> 31)
    }
}
