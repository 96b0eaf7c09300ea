import Testing
import Foundation
import Formats
import TestSupport
@testable import Quantize

/// Types with golden blocks in Tests/fixtures/quants/quant (ggml's reference quantizer output).
let quantizeGoldenTypes: [GGMLType] = [
    .Q4_0, .Q4_1, .Q5_0, .Q5_1, .Q8_0, .Q8_1, .Q2_K, .Q3_K, .Q4_K, .Q5_K, .Q6_K, .IQ4_NL, .IQ4_XS,
    .TQ1_0, .TQ2_0, .MXFP4, .Q1_0, .Q2_0,
]

@Suite("GGML quantize")
struct GGMLQuantizeTests {
    static let rowLength = 512

    @Test("quantizes the edge-case rows to ggml's golden blocks byte for byte", arguments: quantizeGoldenTypes)
    func matchesGolden(_ t: GGMLType) throws {
        let input = try fixtureFloats("quants/quant/input.f32")
        let golden = try fixtureBytes("quants/quant/\(t.name).blocks")
        let got = try quantize(t, input)
        #expect(got.count == golden.count)
        let rowBytes = t.byteCount(elements: Self.rowLength)!
        for row in 0..<(input.count / Self.rowLength) {
            let range = (row * rowBytes)..<((row + 1) * rowBytes)
            let diff = range.first { got[$0] != golden[$0] }
            #expect(diff == nil, "row \(row): first differing byte at \(diff.map { $0 - row * rowBytes } ?? -1)")
        }
    }

    @Test("quantizes a tensor to the bytes llama.cpp's llama_model_quantize wrote (pure, 2 threads)",
          arguments: [GGMLType.Q4_0, .Q4_1, .Q5_0, .Q5_1, .Q8_0, .Q2_K, .Q3_K, .Q4_K, .Q5_K, .Q6_K, .IQ4_NL, .IQ4_XS])
    func matchesLlamaQuantize(_ t: GGMLType) throws {
        let input = try fixtureFloats("quants/llama/input.f32")
        let golden = try fixtureBytes("quants/llama/\(t.name).blocks")
        let got = try quantize(t, input)
        #expect(got.count == golden.count)
        let diff = got.indices.first { got[$0] != golden[$0] }
        #expect(diff == nil, "first differing byte at \(diff ?? -1)")
    }

    @Test("round trip error stays within the type's resolution", arguments: quantizeGoldenTypes)
    func roundTripError(_ t: GGMLType) throws {
        let values = randomFloats(4096, seed: 7)
        let back = try dequantize(t, try quantize(t, values))
        var se: Double = 0, ss: Double = 0
        for (a, b) in zip(values, back) {
            se += Double(a - b) * Double(a - b)
            ss += Double(a) * Double(a)
        }
        let relative = (se / ss).squareRoot()
        let limit: Double = switch t {
        case .Q8_0, .Q8_1: 0.01
        case .Q6_K, .Q5_0, .Q5_1, .Q5_K: 0.05
        case .Q4_0, .Q4_1, .Q4_K, .IQ4_NL, .IQ4_XS: 0.12
        case .Q3_K: 0.25
        case .Q1_0: 0.7
        case .MXFP4: 0.2
        case .Q2_K: 0.5
        default: 0.8  // ternary: d = max|x|, so Gaussian weights mostly round to 0
        }
        #expect(relative < limit, "relative RMSE \(relative)")
    }

    @Test("an all-zero block gives the documented bytes (formats-gguf.md §2.12)")
    func zeroBlocks() throws {
        let zeros = [Float](repeating: 0, count: 256)
        #expect(try quantize(.Q4_0, Array(zeros[0..<32])) == [0x00, 0x80] + [UInt8](repeating: 0x88, count: 16))
        #expect(try quantize(.Q5_0, Array(zeros[0..<32])) == [0x00, 0x80, 0xff, 0xff, 0xff, 0xff] + [UInt8](repeating: 0, count: 16))
        for t in [GGMLType.Q8_0, .Q4_1, .Q5_1] {
            #expect(try quantize(t, Array(zeros[0..<32])) == [UInt8](repeating: 0, count: t.bytesPerBlock))
        }
        for t in [GGMLType.Q2_K, .Q3_K, .Q4_K, .Q5_K, .Q6_K] {
            #expect(try quantize(t, zeros) == [UInt8](repeating: 0, count: t.bytesPerBlock), "\(t.name)")
        }
        #expect(try quantize(.IQ4_XS, zeros) == [0x00, 0x80, 0xaa, 0xaa, 0, 0, 0, 0] + [UInt8](repeating: 0x88, count: 128))
        #expect(try quantize(.TQ2_0, zeros) == [UInt8](repeating: 0x55, count: 64) + [0, 0])
        #expect(try quantize(.IQ4_NL, Array(zeros[0..<32])) == [0, 0] + [UInt8](repeating: 0x88, count: 16))
    }

    @Test("NaN or Inf input is refused unless allowed", arguments: [Float.nan, .infinity, -.infinity])
    func nonFinite(_ bad: Float) throws {
        var values = randomFloats(64)
        values[40] = bad
        #expect(throws: QuantizeError(.nonFinite(index: 40))) { try quantize(.Q4_0, values) }
        #expect(throws: Never.self) { try quantize(.Q4_0, values, allowNonFinite: true) }
    }

    @Test("a length that is not whole blocks, or a wrong destination size, is refused")
    func badShapes() {
        #expect(throws: QuantizeError.self) { try quantize(.Q4_K, randomFloats(300)) }
        var dst = [UInt8](repeating: 0, count: 17)
        #expect(throws: QuantizeError.self) {
            try randomFloats(32).withUnsafeBufferPointer { src in
                try dst.withUnsafeMutableBytes { d in try GGMLCodec.quantize(.Q4_0, src, into: d) }
            }
        }
    }

    @Test("codebook types and runtime-only types cannot be quantized",
          arguments: [GGMLType.IQ2_XXS, .IQ3_S, .IQ1_M, .Q8_K, .NVFP4])
    func unsupported(_ t: GGMLType) {
        #expect(!GGMLCodec.canQuantize(t))
        #expect(throws: QuantizeError(.unsupported("quantizing to \(t.name)"))) {
            try quantize(t, [Float](repeating: 0, count: t.blockSize))
        }
    }

    @Test("multi-threaded quantization equals block-by-block", arguments: [GGMLType.Q4_K, .Q6_K, .Q4_0])
    func threadedEqualsSerial(_ t: GGMLType) throws {
        let values = randomFloats(1 << 17, seed: 3)
        let whole = try quantize(t, values)
        var serial = [UInt8]()
        for i in stride(from: 0, to: values.count, by: t.blockSize) {
            serial += try quantize(t, Array(values[i..<(i + t.blockSize)]))
        }
        #expect(whole == serial)
    }

    @Test("quantized bytes decode like gguf-py's quantize output re-read", arguments: [GGMLType.Q4_0, .Q8_0, .Q5_1])
    func legacyMatchesGGUFPyOnRandomData(_ t: GGMLType) throws {
        try #require(Python.available)
        let values = randomFloats(1024, seed: 11)
        let ours = try quantize(t, values)
        let dir = TestPaths.temporaryDirectory("quantize")
        let input = dir + "/x.f32"
        try values.withUnsafeBytes { try Data($0).write(to: URL(fileURLWithPath: input)) }
        let script = """
            import sys, numpy as np
            from gguf import quants, GGMLQuantizationType as T
            x = np.fromfile(sys.argv[1], dtype='<f4').reshape(2, 512)
            sys.stdout.write(quants.quantize(x, T[sys.argv[2]]).tobytes().hex())
            """
        let r = try Python.run(script, [input, t.name])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout == ours.map { String(format: "%02x", $0) }.joined())
    }
}
