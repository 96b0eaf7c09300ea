import Foundation
import Formats
import Testing
import TestSupport
@testable import Quantize

/// The bytes of `quantize_row_q*_ref`'s scalar port, block by block (any input).
func referenceBytes(_ t: GGMLType, _ x: [Float]) -> [UInt8] {
    let size = t.bytesPerBlock
    var out = [UInt8](repeating: 0, count: x.count / 32 * size)
    x.withUnsafeBufferPointer { xp in
        out.withUnsafeMutableBytes { o in
            for b in 0..<(x.count / 32) {
                let src = UnsafeBufferPointer(rebasing: xp[(32 * b)..<(32 * b + 32)])
                let dst = UnsafeMutableRawBufferPointer(rebasing: o[(size * b)..<(size * b + size)])
                if t == .Q4_0 {
                    Q4_0.encodeReference(src, into: dst)
                } else {
                    Q8_0.encodeReference(src, into: dst)
                }
            }
        }
    }
    return out
}

/// The index of the first block whose bytes differ, or nil.
func firstDifferentBlock(_ t: GGMLType, _ a: [UInt8], _ b: [UInt8]) -> Int? {
    guard a.count == b.count else { return -1 }
    return a.indices.first { a[$0] != b[$0] }.map { $0 / t.bytesPerBlock }
}

/// Blocks of 32 that the 16-lane paths must get right lane by lane: the sign of the first
/// largest |x| when +a and −a tie, zeros of both signs, float32-subnormal maxima and d, d on an
/// fp16 rounding tie (normal, subnormal, overflow), x·id on a rounding tie or an integer.
func trickyBlocks() -> [[Float]] {
    var blocks: [[Float]] = []
    func block(_ values: [Int: Float], fill: Float = 0) -> [Float] {
        var b = [Float](repeating: fill, count: 32)
        for (i, v) in values { b[i] = v }
        return b
    }
    // +a and −a at the largest magnitude: the first wins, whatever lies between and around.
    let magnitudes: [Float] = [1, 3.5, 1e-3, 1e30, .greatestFiniteMagnitude, 0x1p-133, 0x1p-149]
    for a in magnitudes {
        blocks.append(block([3: a, 20: -a, 7: a / 2]))
        blocks.append(block([3: -a, 20: a, 7: a / 2]))
        blocks.append(block([0: -a, 31: a]))
        blocks.append(block([31: -a, 0: a]))
        blocks.append((0..<32).map { $0 % 2 == 0 ? -a : a })
        blocks.append((0..<32).map { $0 % 2 == 0 ? a : -a })
        blocks.append(block([5: a, 6: -a, 9: -a], fill: -a / 4))
    }
    // Zeros: all +0, all −0, mixed, and a lone −0 or +0.
    blocks.append([Float](repeating: 0, count: 32))
    blocks.append([Float](repeating: -0.0, count: 32))
    blocks.append((0..<32).map { $0 % 3 == 0 ? -0.0 : 0 })
    blocks.append(block([17: -0.0]))
    blocks.append(block([0: 0], fill: -0.0))
    // Float32-subnormal maxima and d: 1/d overflows (the scalar path), or d subnormal, 1/d finite.
    for m in [Float(0x1p-133), 1e-38, 2.4e-38, 3.8e-37, Float(bitPattern: 0x007f_ffff), 0x1p-127] {
        blocks.append((0..<32).map { Float($0 % 7) / 6 * ($0 % 2 == 0 ? m : -m) })
        blocks.append(block([11: -m, 12: m / 3]))
    }
    // d exactly halfway between two fp16 values (Q4_0: d = max / −8; Q8_0: d = amax / 127, both
    // exact here): ties to even below and above, subnormal fp16, and the overflow to Inf.
    let halfTies: [Float] = [
        1 + 0x1p-11, 1 + 3 * 0x1p-11, 0x1p-25, 3 * 0x1p-25, 5 * 0x1p-26, 65520, 65519.996, 0x1.ffcp15,
    ]
    for h in halfTies {
        blocks.append(block([4: -8 * h, 9: h, 10: -h * 3]))
        blocks.append(block([4: 8 * h, 9: -h]))
        blocks.append(block([8: 127 * h, 2: -h * 50]))
        blocks.append(block([8: -127 * h, 2: h]))
    }
    // x·id on rounding ties (Q8_0: d = 1, k + ½) and on integers (Q4_0: d = 1, x + 8.5 whole).
    blocks.append([127] + (0..<31).map { Float($0 - 15) + 0.5 })
    blocks.append([-127] + (0..<31).map { Float(15 - $0) - 0.5 })
    blocks.append([-8] + (0..<31).map { Float($0 % 16) - 7.5 })
    blocks.append([8] + (0..<31).map { Float($0 % 17) - 8 })
    blocks.append([-8] + (0..<31).map { Float($0 % 17) - 8 })
    return blocks
}

/// `count` blocks of 32 with magnitudes from 2⁻¹⁴⁹ to 2¹²⁷ (one scale per block), values on a
/// coarse grid in about a third of the blocks so that equal magnitudes of both signs are common.
func variedBlocks(_ count: Int, seed: UInt64) -> [Float] {
    var s = seed
    func next() -> UInt64 {
        s ^= s << 13; s ^= s >> 7; s ^= s << 17
        return s
    }
    var x = [Float](repeating: 0, count: 32 * count)
    for b in 0..<count {
        let r = next()
        let exponent = Int(r % 277) - 149
        let scale = Float(sign: .plus, exponent: exponent, significand: 1)
        let coarse = (r >> 20) % 3 == 0
        for i in 0..<32 {
            let u = Float(next() >> 40) / Float(1 << 24) * 2 - 1  // [−1, 1)
            x[32 * b + i] = (coarse ? (u * 4).rounded() / 4 : u) * scale
        }
    }
    return x
}

@Suite("Q4_0 and Q8_0, 16 blocks at a time")
struct LegacyBlocks16Tests {
    @Test("16-block groups equal the scalar ports on 100k blocks of varied scales (both cores)",
          arguments: [GGMLType.Q4_0, .Q8_0])
    func variedScales(_ t: GGMLType) throws {
        let x = variedBlocks(100_003, seed: 0x5EED)
        let got = try quantize(t, x)
        let want = referenceBytes(t, x)
        let bad = firstDifferentBlock(t, got, want)
        #expect(bad == nil, "\(t.name) block \(bad ?? -1)")
    }

    @Test("the tricky blocks, in every lane of a group, equal the scalar ports",
          arguments: [GGMLType.Q4_0, .Q8_0])
    func trickyLanes(_ t: GGMLType) throws {
        let tricky = trickyBlocks()
        let filler = randomFloats(32 * 16, seed: 11)
        // Each tricky block at each of the 16 lanes, the other lanes random.
        for (n, block) in tricky.enumerated() {
            for lane in 0..<16 {
                var x = filler
                x.replaceSubrange((32 * lane)..<(32 * lane + 32), with: block)
                var got = [UInt8](repeating: 0xAA, count: 16 * t.bytesPerBlock)
                let ok = x.withUnsafeBufferPointer { xp in
                    got.withUnsafeMutableBytes { y in
                        t == .Q4_0 ? Q4_0.encode16(xp.baseAddress!, into: y.baseAddress!)
                                   : Q8_0.encode16(xp.baseAddress!, into: y.baseAddress!)
                    }
                }
                #expect(ok)
                let bad = firstDifferentBlock(t, got, referenceBytes(t, x))
                #expect(bad == nil, "\(t.name) tricky block \(n) in lane \(lane): block \(bad ?? -1)")
            }
        }
        // All of them side by side, through the whole-tensor entry (not a multiple of 16).
        let all = tricky.flatMap { $0 }
        let bad = firstDifferentBlock(t, try quantize(t, all), referenceBytes(t, all))
        #expect(bad == nil, "\(t.name) block \(bad ?? -1) of \(tricky.count)")
    }

    @Test("tensors of 1 to 50 blocks: the groups of 16 and the tail",
          arguments: [GGMLType.Q4_0, .Q8_0])
    func tails(_ t: GGMLType) throws {
        for blocks in 1...50 {
            let x = variedBlocks(blocks, seed: UInt64(blocks))
            let bad = firstDifferentBlock(t, try quantize(t, x), referenceBytes(t, x))
            #expect(bad == nil, "\(t.name), \(blocks) blocks: block \(bad ?? -1)")
        }
    }

    @Test("""
        a group holding NaN or Inf writes nothing; the tensor reports the first, or with \
        allowNonFinite encodes like the scalar port
        """,
          arguments: [GGMLType.Q4_0, .Q8_0], [Float.nan, .infinity, -.infinity, -Float.nan])
    func nonFinite(_ t: GGMLType, _ bad: Float) throws {
        var x = variedBlocks(64, seed: 5)
        for i in [32 * 16 + 40, 32 * 16 + 500, 32 * 50 + 31] { x[i] = bad }
        var group = [UInt8](repeating: 0xAA, count: 16 * t.bytesPerBlock)
        let ok = x.withUnsafeBufferPointer { xp in
            group.withUnsafeMutableBytes { y in
                t == .Q4_0 ? Q4_0.encode16(xp.baseAddress! + 512, into: y.baseAddress!)
                           : Q8_0.encode16(xp.baseAddress! + 512, into: y.baseAddress!)
            }
        }
        #expect(!ok)
        #expect(group.allSatisfy { $0 == 0xAA })
        #expect(throws: QuantizeError(.nonFinite(index: 32 * 16 + 40))) { try quantize(t, x) }
        let got = try quantize(t, x, allowNonFinite: true)
        let diff = firstDifferentBlock(t, got, referenceBytes(t, x))
        #expect(diff == nil, "\(t.name) block \(diff ?? -1)")
    }

    @Test("fp16 rounding of 16 lanes equals Half.fromFloat (ties, subnormals, overflow)")
    func halfRounding() {
        var lanes: [Float] = []
        // Floats from 2⁻²⁶ to 2¹⁷ in steps of 4113 ulps (odd: the 13 bits fp16 drops run through
        // all their values, ties included), both signs, and the fp16 ties and edges themselves.
        var bits: UInt32 = 0x3280_0000
        while bits < 0x4800_0000 {
            lanes.append(Float(bitPattern: bits))
            lanes.append(-Float(bitPattern: bits &+ 0x0fff))
            bits &+= 0x1000 &+ 0x11
        }
        lanes += [0, -0.0, 65504, 65519.996, 65520, 0x1p-25, 3 * 0x1p-25, 0x1p-24, 1 + 0x1p-11,
                  1 + 3 * 0x1p-11, .greatestFiniteMagnitude, .leastNonzeroMagnitude, 6.1e-5, 0x1p-14]
        while lanes.count % 16 != 0 { lanes.append(1) }
        var mismatches = 0
        for i in stride(from: 0, to: lanes.count, by: 16) {
            let v = lanes.withUnsafeBufferPointer { load16($0.baseAddress! + i) }
            let h = halfBits(v)
            for k in 0..<16 where h[k] != Half.fromFloat(v[k]) { mismatches += 1 }
        }
        #expect(mismatches == 0)
    }

    @Test("Q4_0 and Q8_0 of the tricky and varied blocks equal gguf-py's quantize",
          .enabled(if: Python.available), arguments: [GGMLType.Q4_0, .Q8_0])
    func matchesGGUFPy(_ t: GGMLType) throws {
        // gguf-py follows C only where C is defined: leave out blocks whose 1/d overflows. And
        // where a block is all zeros led by −0, gguf-py's argmax takes that −0 as max (d = +0)
        // while ggml's strict `>` keeps its initial +0 (d = −0): ggml is the reference.
        let varied = variedBlocks(4000, seed: 9)
        let all = trickyBlocks() + (0..<4000).map { Array(varied[(32 * $0)..<(32 * $0 + 32)]) }
        let blocks = all.filter { b in
            let m = b.map(\.magnitude).max() ?? 0
            let d = t == .Q4_0 ? m / 8 : m / 127
            return (d == 0 || (1 / d).isFinite) && !(m == 0 && b[0].sign == .minus)
        }
        #expect(blocks.count > 3000)
        let x = blocks.flatMap { $0 }
        let dir = TestPaths.temporaryDirectory("q16")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let input = dir + "/x.f32", output = dir + "/q.bin"
        try x.withUnsafeBytes { try Data($0).write(to: URL(fileURLWithPath: input)) }
        let r = try Python.run("""
            import sys, numpy as np
            from gguf import GGMLQuantizationType
            from gguf.quants import quantize
            x = np.fromfile(sys.argv[1], dtype="<f4").reshape(-1, 32)
            with np.errstate(all="ignore"):
                quantize(x, GGMLQuantizationType[sys.argv[3]]).tofile(sys.argv[2])
            """, [input, output, t.name])
        #expect(r.status == 0, "\(r.stderr)")
        let want = [UInt8](try Data(contentsOf: URL(fileURLWithPath: output)))
        let bad = firstDifferentBlock(t, try quantize(t, x), want)
        #expect(bad == nil, "\(t.name) block \(bad ?? -1) of \(x.count / 32) (tricky ones first)")
    }
}
