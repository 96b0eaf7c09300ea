import Testing
import Formats
@testable import Quantize

@Suite("GGUF ↔ MLX affine transcoding")
struct TranscodeTests {
    @Test("Q4_0, Q4_1 and Q8_0 become affine g32 groups exactly (F32 scales) and come back byte for byte",
          arguments: [GGMLType.Q4_0, .Q4_1, .Q8_0])
    func roundTrip(_ t: GGMLType) throws {
        let values = randomFloats(8 * 128, seed: 21)
        let blocks = try quantize(t, values)
        let (affine, exact) = try blocks.withUnsafeBytes { try Transcode.ggmlToAffine(t, blocks: $0, shape: [8, 128]) }
        #expect(exact)
        #expect(affine.bits == (t == .Q8_0 ? 8 : 4))
        #expect(affine.groupSize == 32)
        #expect(affine.packedShape == [8, 128 * affine.bits / 32])
        #expect(affine.scalesShape == [8, 4])
        let ggmlValues = try dequantize(t, blocks)
        var affineValues = [Float](repeating: 0, count: ggmlValues.count)
        try affine.packed.withUnsafeBytes { p in
            try affine.scales.withUnsafeBytes { s in
                try affine.biases.withUnsafeBytes { b in
                    try affineValues.withUnsafeMutableBufferPointer {
                        try Affine.dequantize(packed: p, scales: s, biases: b, dtype: .f32, shape: [8, 128],
                                              bits: affine.bits, groupSize: 32, into: $0)
                    }
                }
            }
        }
        #expect(zip(ggmlValues, affineValues).allSatisfy { $0 == $1 })
        #expect(try Transcode.affineToGGML(affine, to: t) == blocks)
    }

    @Test("with F16 scales the exact flag tells the truth", arguments: [GGMLType.Q4_0, .Q4_1, .Q8_0])
    func f16Flag(_ t: GGMLType) throws {
        let blocks = try quantize(t, randomFloats(256, seed: 4))
        let (affine, exact) = try blocks.withUnsafeBytes { try Transcode.ggmlToAffine(t, blocks: $0, shape: [2, 128], dtype: .f16) }
        #expect(exact == (try Transcode.sameWeights(affine, t, blocks.withUnsafeBytes { UnsafeRawBufferPointer($0) })))
    }

    @Test("affine groups that are not legacy blocks are not transcoded")
    func notExact() throws {
        let values = randomFloats(256, seed: 9)
        let q4 = try values.withUnsafeBytes { try Affine.quantize($0, dtype: .f32, shape: [2, 128], bits: 4, groupSize: 32) }
        #expect(try Transcode.affineToGGML(q4, to: .Q4_0) == nil)  // bias is an endpoint, not −8·scale
        let g64 = try values.withUnsafeBytes { try Affine.quantize($0, dtype: .f32, shape: [2, 128], bits: 4, groupSize: 64) }
        #expect(try Transcode.affineToGGML(g64, to: .Q4_1) == nil)
        #expect(throws: QuantizeError.self) { try Transcode.affineToGGML(q4, to: .Q4_K) }
    }
}
