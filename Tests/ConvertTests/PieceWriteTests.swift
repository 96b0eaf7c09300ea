import Foundation
import Testing
import TestSupport
import Formats
import Quantize
@testable import Convert

/// Casts written straight into the output in pieces (`OutputFile.Region`, several threads)
/// give the same bytes as converting the whole tensor at once, in every sink that takes them.
@Suite("Piecewise cast writes")
struct PieceWriteTests {
    /// Element counts: tiny, one piece plus a tail on one thread, several pieces on several
    /// threads with a short last piece, and one just below the threading threshold.
    static let counts = [3, 70_001, 300_007, 262_143]

    /// A source safetensors file of F32 tensors (finite values, and a few NaN and ±inf).
    func makeSource(in dir: String) throws -> String {
        let path = dir + "/src.safetensors"
        var tensors: [(TensorInfo, [Float])] = []
        var state: UInt64 = 42
        for (k, n) in Self.counts.enumerated() {
            var values = (0..<n).map { _ -> Float in
                state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
                return Float(Int64(bitPattern: state >> 11) % 2_000_000) / 997.0
            }
            values[0] = .nan
            if n > 2 { values[1] = .infinity; values[2] = -.infinity }
            tensors.append((TensorInfo(name: "t\(k)", type: .dense(.f32), shape: [n], byteCount: 4 * n), values))
        }
        var sink = SafetensorsWriter(path: path)
        try sink.begin(metadata: [:], plan: tensors.map(\.0))
        for (t, v) in tensors { try v.withUnsafeBytes { b throws in try sink.write(t, bytes: b) } }
        try sink.commit()
        return path
    }

    func temporaryDirectory() throws -> String {
        TestPaths.temporaryDirectory("ckpt-pieces")
    }

    @Test("safetensors, GGUF and sharded (hf) outputs hold exactly Scalars.convert's bytes for every cast tensor",
          arguments: [("safetensors", DType.bf16), ("safetensors", .f16), ("gguf", .f16), ("gguf", .bf16), ("hf", .bf16)])
    func castOutputs(_ ext: String, _ dtype: DType) throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let sourcePath = try makeSource(in: dir)
        let source = try SafetensorsFile(path: sourcePath)
        let destination = "\(dir)/out.\(ext)"
        let result = try Converter.convert(ConversionRequest(
            source: sourcePath, destination: destination, format: ext == "hf" ? .hf : nil, dtype: dtype))
        let output: any TensorSource =
            switch ext {
            case "gguf": try GGUFFile(path: destination)
            case "hf": try SafetensorsFile(path: destination + "/model.safetensors")
            default: try SafetensorsFile(path: destination)
            }
        var casts = 0
        for t in result.plan.tensors {
            guard case .cast(let from, let to) = t.action else { continue }
            casts += 1
            let raw = try source.bytes(of: t.source)
            var want = [UInt8](repeating: 0, count: t.output.byteCount)
            try raw.withBytes { s in try want.withUnsafeMutableBytes { d in try Scalars.convert(s, from: from, to: to, into: d) } }
            let written = try #require(output.tensor(named: t.output.name))
            #expect(try output.bytes(of: written).bytes == want, "\(t.output.name)")
        }
        #expect(casts >= 3)
        // Nothing but the output is left in the directory (no temporary file).
        let left = try FileManager.default.contentsOfDirectory(atPath: dir).sorted()
        #expect(left == ["out.\(ext)", "src.safetensors"])
    }

    @Test("a region refuses bytes outside it; an uncommitted file leaves nothing behind")
    func regionBounds() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/r.bin"
        do {
            let file = try OutputFile(path: path)
            try file.write([1, 2, 3, 4])
            let region = try file.reserve(8)
            #expect(region.offset == 4 && region.count == 8 && file.position == 12)
            let eight = [UInt8](repeating: 9, count: 8)
            try eight.withUnsafeBytes { b throws in
                #expect(throws: FormatError.self) { try region.write(b, at: 1) }
                #expect(throws: FormatError.self) { try region.write(UnsafeRawBufferPointer(rebasing: b[0..<1]), at: -1) }
                try region.write(UnsafeRawBufferPointer(rebasing: b[0..<4]), at: 4)
                try region.write(UnsafeRawBufferPointer(rebasing: b[0..<4]), at: 0)
            }
            try file.write([5])
            try file.commit()
        }
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == Data([1, 2, 3, 4] + [UInt8](repeating: 9, count: 8) + [5]))
        do {
            let file = try OutputFile(path: dir + "/dropped.bin")
            let region = try file.region(at: 0, count: 4)
            try [UInt8](repeating: 1, count: 4).withUnsafeBytes { b throws in try region.write(b, at: 0) }
        }
        #expect(!FileManager.default.fileExists(atPath: dir + "/dropped.bin"))
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir) == ["r.bin"])
    }
}
