import Testing
import Formats
import TestSupport
@testable import Quantize

/// Types whose fixtures make_quants.py writes: random blocks and gguf-py's dequantization.
let dequantFixtureTypes: [GGMLType] = [
    .Q4_0, .Q4_1, .Q5_0, .Q5_1, .Q8_0, .Q2_K, .Q3_K, .Q4_K, .Q5_K, .Q6_K, .IQ2_XXS, .IQ2_XS, .IQ2_S,
    .IQ3_XXS, .IQ3_S, .IQ1_S, .IQ1_M, .IQ4_NL, .IQ4_XS, .TQ1_0, .TQ2_0, .MXFP4, .NVFP4,
]

@Suite("GGML dequantize")
struct GGMLDequantizeTests {
    @Test("dequantizes random blocks bit for bit like gguf-py", arguments: dequantFixtureTypes)
    func matchesGGUFPy(_ t: GGMLType) throws {
        let blocks = try fixtureBytes("quants/deq/\(t.name).blocks")
        let expected = try fixtureFloats("quants/deq/\(t.name).f32")
        #expect(blocks.count % t.bytesPerBlock == 0)
        let got = try dequantize(t, blocks)
        #expect(got.count == expected.count)
        let bad = firstBitMismatch(got, expected)
        #expect(bad == nil, "first mismatch at \(bad ?? -1): \(bad.map { got[$0] } ?? 0) vs \(bad.map { expected[$0] } ?? 0)")
    }

    @Test("every codec's block size and byte size match GGMLType's table", arguments: GGMLType.allCases)
    func sizesMatchTable(_ t: GGMLType) {
        guard let c = GGMLCodec.codec(t) else { return }
        #expect(c.type == t)
        #expect(c.weightsPerBlock == t.blockSize)
        #expect(c.bytesPerBlock == t.bytesPerBlock)
    }

    @Test("every type gguf-py 0.19 dequantizes is supported")
    func coverage() {
        for t in dequantFixtureTypes + [.F32, .F16, .BF16, .Q8_K, .Q8_1] {
            #expect(GGMLCodec.canDequantize(t), "\(t.name)")
        }
        #expect(!GGMLCodec.canDequantize(.I32))
    }

    @Test("a source that is not whole blocks is refused", arguments: [GGMLType.Q4_0, .Q6_K])
    func shortSource(_ t: GGMLType) {
        let blocks = [UInt8](repeating: 0, count: t.bytesPerBlock * 2 - 1)
        var out = [Float](repeating: 0, count: 2 * t.blockSize)
        #expect(throws: QuantizeError.self) {
            try blocks.withUnsafeBytes { src in
                try out.withUnsafeMutableBufferPointer { dst in try GGMLCodec.dequantize(t, src, into: dst) }
            }
        }
        var odd = [Float](repeating: 0, count: t.blockSize + 1)
        #expect(throws: QuantizeError.self) {
            try blocks.withUnsafeBytes { src in
                try odd.withUnsafeMutableBufferPointer { dst in try GGMLCodec.dequantize(t, src, into: dst) }
            }
        }
    }

    @Test("unsupported block types throw unsupported", arguments: [GGMLType.I8, .I32])
    func unsupported(_ t: GGMLType) {
        let blocks = [UInt8](repeating: 0, count: t.bytesPerBlock)
        var out = [Float](repeating: 0, count: t.blockSize)
        #expect(throws: QuantizeError(.unsupported("dequantizing \(t.name)"))) {
            try blocks.withUnsafeBytes { src in
                try out.withUnsafeMutableBufferPointer { dst in try GGMLCodec.dequantize(t, src, into: dst) }
            }
        }
    }

    @Test("multi-threaded dequantization equals block-by-block", arguments: [GGMLType.Q4_K, .Q8_0])
    func threadedEqualsSerial(_ t: GGMLType) throws {
        let values = randomFloats(1 << 17)
        let blocks = try quantize(t, values)
        let whole = try dequantize(t, blocks)
        var serial = [Float]()
        for i in stride(from: 0, to: blocks.count, by: t.bytesPerBlock) {
            serial += try dequantize(t, Array(blocks[i..<(i + t.bytesPerBlock)]))
        }
        #expect(firstBitMismatch(whole, serial) == nil)
    }
}
