import Foundation
import Testing
import Formats
import TestSupport
@testable import Quantize

@Suite("Real model")
struct RealModelTests {
    static let model = TestPaths.model("smollm2-135m-instruct-q4_1.gguf")

    @Test("SmolLM2's Q4_1 and Q8_0 tensors dequantize exactly like gguf-py",
          .enabled(if: Python.available && model != nil))
    func smollm2() throws {
        let path = try #require(Self.model)
        let dir = TestPaths.temporaryDirectory("quantize-model")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        // gguf-py locates a few tensors (absolute data offset, byte count) and writes its dequantization.
        let script = """
            import sys, numpy as np
            from gguf import GGUFReader, quants
            r = GGUFReader(sys.argv[1])
            picked = [t for t in r.tensors if t.tensor_type.name == 'Q4_1'][:2] + \\
                     [t for t in r.tensors if t.tensor_type.name == 'Q8_0'][:1]
            for i, t in enumerate(picked):
                d = quants.dequantize(np.asarray(t.data), t.tensor_type).astype('<f4')
                d.tofile(f"{sys.argv[2]}/{i}.f32")
                print(t.tensor_type.name, t.data_offset, t.n_bytes, d.size)
            """
        let r = try Python.run(script, [path, dir])
        try #require(r.status == 0, "\(r.stderr)")
        let file = try ByteBuffer(mapping: path)
        for (i, line) in r.stdout.split(separator: "\n").enumerated() {
            let f = line.split(separator: " ")
            let t = try #require(GGMLType(name: String(f[0])))
            let offset = try #require(Int(f[1])), bytes = try #require(Int(f[2])), n = try #require(Int(f[3]))
            let slice = try file.all.slice(offset, bytes)
            var ours = [Float](repeating: 0, count: n)
            try ours.withUnsafeMutableBufferPointer { try GGMLCodec.dequantize(t, slice.raw, into: $0) }
            let theirs = try [UInt8](Data(contentsOf: URL(fileURLWithPath: "\(dir)/\(i).f32"))).withUnsafeBytes {
                Array($0.bindMemory(to: Float.self))
            }
            #expect(firstBitMismatch(ours, theirs) == nil, "tensor \(i) (\(t.name))")
        }
    }
}
