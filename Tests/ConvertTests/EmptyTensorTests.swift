import Foundation
import Testing
import TestSupport
import Formats
import Quantize
@testable import Convert

/// A 0 × n tensor has no blocks and no bytes: every quantized output must take it as it is.
@Suite("Empty tensors through quantized conversions")
struct EmptyTensorTests {
    func source(in dir: String) throws -> String {
        let path = dir + "/src.safetensors"
        let empty = try #require(TensorInfo(name: "e.weight", type: .dense(.f32), shape: [0, 256]))
        let full = try #require(TensorInfo(name: "w.weight", type: .dense(.f32), shape: [2, 256]))
        var sink = SafetensorsWriter(path: path)
        try sink.begin(metadata: [:], plan: [empty, full])
        try sink.write(empty, bytes: UnsafeRawBufferPointer(start: nil, count: 0))
        let values = (0..<512).map { Float($0 % 17) - 8 }
        try values.withUnsafeBytes { b in try sink.write(full, bytes: b) }
        try sink.commit()
        return path
    }

    @Test("GGUF block types: the empty tensor is written with its type and shape, the other quantized",
          arguments: ["Q4_0", "Q8_0", "Q4_1", "Q4_K", "Q6_K"])
    func gguf(_ type: String) throws {
        let dir = TestPaths.temporaryDirectory("empty-tensor")
        defer { TestPaths.removeTemporary(dir) }
        let out = dir + "/out.gguf"
        let preset = try #require(GGUFPreset(name: type))  // one type for every eligible tensor
        _ = try Converter.convert(
            ConversionRequest(source: try source(in: dir), destination: out, gguf: .init(preset: preset)))
        let back = try GGUFFile(path: out)
        let e = try #require(back.tensor(named: "e.weight"))
        #expect(e.shape == [0, 256] && e.byteCount == 0)
        #expect(back.tensor(named: "w.weight")?.type == .ggml(try #require(GGMLType(name: type))))
    }

    @Test("MLX affine: the empty tensor becomes an empty triple", arguments: [4, 8])
    func affine(_ bits: Int) throws {
        let dir = TestPaths.temporaryDirectory("empty-tensor")
        defer { TestPaths.removeTemporary(dir) }
        let out = dir + "/out.safetensors"
        _ = try Converter.convert(
            ConversionRequest(
                source: try source(in: dir), destination: out, affine: .init(bits: bits, groupSize: 64)))
        let back = try SafetensorsFile(path: out)
        #expect(back.tensor(named: "e.weight")?.shape == [0, 256 * bits / 32])
        #expect(back.tensor(named: "e.scales")?.shape == [0, 4])
    }
}
