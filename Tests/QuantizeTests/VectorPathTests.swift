import Formats
import Testing
@testable import Quantize

/// Blocks of 256 finite weights that stress the vector paths where they could part from the
/// scalar ports: ties of every rounding, zeros of both signs, constant and one-hot sub-blocks,
/// tiny (subnormal) and huge magnitudes, small ranges far from zero.
func hostileFiniteBlocks() -> [[Float]] {
    var blocks: [[Float]] = []
    // Subnormals parsed at run time: as literals they draw underflow warnings.
    let subnormals = [Float("1e-40") ?? 0, Float("3e-39") ?? 0]
    let scales: [Float] = subnormals + [1e-38, 1e-30, 1e-7, 1e-3, 1, 3, 1e4, 1e30, 1e37]
    for (i, scale) in scales.enumerated() {
        blocks.append(randomFloats(256, seed: UInt64(100 + i), scale: scale))
    }
    blocks.append([Float](repeating: 0, count: 256))
    blocks.append([Float](repeating: -0.0, count: 256))
    blocks.append([Float](repeating: 0.75, count: 256))
    blocks.append([Float](repeating: -2.5, count: 256))
    blocks.append((0..<256).map { $0 % 37 == 0 ? 1 : 0 })
    blocks.append((0..<256).map { $0 == 200 ? -3 : 0 })
    blocks.append((0..<256).map { Float($0 % 17) * 0.5 - 4 })       // halves: ties everywhere
    blocks.append((0..<256).map { Float($0 % 9) - 4 })              // small integers
    blocks.append((0..<256).map { Float($0 % 16) / 15 * 127 })      // exact code grid
    blocks.append((0..<256).map { 1000 + Float($0 % 5) * 1e-4 })    // small range, far from zero
    blocks.append((0..<256).map { $0 % 2 == 0 ? .leastNonzeroMagnitude : -.leastNonzeroMagnitude })
    blocks.append((0..<256).map { $0 % 3 == 0 ? .greatestFiniteMagnitude : -.greatestFiniteMagnitude / 2 })
    blocks.append((0..<256).map { $0 / 32 % 2 == 0 ? 0 : Float($0) })  // zero and live sub-blocks
    blocks.append((0..<256).map { $0 / 16 % 3 == 0 ? -0.0 : Float($0 % 16) * -0.25 })
    blocks.append((0..<256).map { $0 % 4 == 0 ? 0 : 1e-37 })    // 1/d overflows: the vector path steps aside
    var r = randomFloats(256, seed: 7)
    for i in stride(from: 0, to: 256, by: 11) { r[i] = -r[i].magnitude * 4 }  // the largest |x| negative
    blocks.append(r)
    return blocks
}

@Suite("Vector paths against the scalar ports")
struct VectorPathTests {
    /// Encodes `x` with both paths of a block encoder and returns (vector, scalar) bytes.
    func both(_ size: Int, _ x: [Float],
              _ vector: (UnsafePointer<Float>, UnsafeMutableRawBufferPointer) -> Void,
              _ scalar: (UnsafeBufferPointer<Float>, UnsafeMutableRawBufferPointer) -> Void) -> ([UInt8], [UInt8]) {
        var a = [UInt8](repeating: 0, count: size), b = a
        x.withUnsafeBufferPointer { xp in
            a.withUnsafeMutableBytes { vector(xp.baseAddress!, $0) }
            b.withUnsafeMutableBytes { scalar(xp, $0) }
        }
        return (a, b)
    }

    @Test("Q4_0 and Q8_0 vector blocks equal quantize_row_q*_ref's scalar port on hostile blocks")
    func legacyBlocks() {
        for (n, block) in hostileFiniteBlocks().enumerated() {
            for k in 0..<8 {
                let x = Array(block[(32 * k)..<(32 * k + 32)])
                let q4 = both(18, x, { Q4_0.encodeFinite($0, into: $1.baseAddress!) }, { Q4_0.encodeReference($0, into: $1) })
                #expect(q4.0 == q4.1, "Q4_0 block \(n).\(k)")
                let q8 = both(34, x, { Q8_0.encodeFinite($0, into: $1.baseAddress!) }, { Q8_0.encodeReference($0, into: $1) })
                #expect(q8.0 == q8.1, "Q8_0 block \(n).\(k)")
            }
        }
    }

    @Test("Q4_K, Q5_K and Q6_K vector blocks (sub-blocks in lanes) equal the scalar ports on hostile blocks")
    func kQuantBlocks() {
        for (n, x) in hostileFiniteBlocks().enumerated() {
            let q4 = both(144, x, { KQuant45.encodeFinite($0, into: $1, nmax: 15, rmin: -1, nstep: 20) },
                          { KQuant45.encodeReference($0, into: $1, nmax: 15, rmin: -1, nstep: 20) })
            #expect(q4.0 == q4.1, "Q4_K block \(n)")
            let q5 = both(176, x, { KQuant45.encodeFinite($0, into: $1, nmax: 31, rmin: -0.5, nstep: 15) },
                          { KQuant45.encodeReference($0, into: $1, nmax: 31, rmin: -0.5, nstep: 15) })
            #expect(q5.0 == q5.1, "Q5_K block \(n)")
            let q6 = both(210, x, { Q6_K.encodeFinite($0, into: $1) }, { Q6_K.encodeReference($0, into: $1) })
            #expect(q6.0 == q6.1, "Q6_K block \(n)")
        }
    }

    @Test("MLX affine vector groups equal the scalar port: codes, scale and bias bits", arguments: [2, 3, 4, 5, 6, 8])
    func affineGroups(bits: Int) {
        for groupSize in [32, 64, 128] {
            let words = groupSize * bits / 32
            for (n, block) in hostileFiniteBlocks().enumerated() {
                for g in 0..<(256 / groupSize) {
                    let x = Array(block[(g * groupSize)..<((g + 1) * groupSize)])
                    var a = [UInt32](repeating: 0, count: words), b = a
                    let (sa, ba) = x.withUnsafeBufferPointer { xp in
                        a.withUnsafeMutableBufferPointer { Affine.quantizeFinite(xp.baseAddress!, count: groupSize, bits: bits, into: $0) }
                    }
                    let (sb, bb) = x.withUnsafeBufferPointer { xp in
                        b.withUnsafeMutableBufferPointer { Affine.quantizeFloats(xp, bits: bits, into: $0) }
                    }
                    #expect(a == b, "codes, \(bits) bits, group \(groupSize), block \(n).\(g)")
                    #expect(sa.bitPattern == sb.bitPattern && ba.bitPattern == bb.bitPattern,
                            "scale/bias, \(bits) bits, group \(groupSize), block \(n).\(g)")
                }
            }
        }
    }

    @Test("a NaN or Inf is reported at its index whichever chunk meets it first, on both cores")
    func nonFiniteInBigTensors() throws {
        let n = 1 << 18  // above the parallel threshold: the blocks run as 64 chunks
        for bad in [5, 70_001, n - 1] {
            var x = randomFloats(n, seed: 3)
            x[bad] = .nan
            x[n - 2] = .infinity
            let expected = min(bad, n - 2)
            for t in [GGMLType.Q4_0, .Q8_0, .Q4_K, .Q6_K] {
                #expect(throws: QuantizeError(.nonFinite(index: expected))) { try quantize(t, x) }
            }
            #expect(throws: QuantizeError(.nonFinite(index: expected))) {
                try x.withUnsafeBytes {
                    try Affine.quantize($0, dtype: .f32, shape: [n / 64, 64], bits: 4, groupSize: 64)
                }
            }
        }
    }
}
