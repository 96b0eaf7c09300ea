import Foundation
import Testing
import Formats
@testable import Quantize

/// Throughput of the quantizers on a 4096×4096 matrix (issue 3's benchmark shapes). Off unless
/// CKPT_BENCH=1; meant for a release build (`swift test -c release --filter QuantizeBenchmarks`),
/// whose numbers `make bench` sets beside gguf-py, mx.quantize and llama.cpp on the same data.
@Suite("Quantize benchmarks", .enabled(if: ProcessInfo.processInfo.environment["CKPT_BENCH"] == "1"))
struct QuantizeBenchmarks {
    static let weights = randomFloats(4096 * 4096, seed: 1)

    func seconds(_ body: () throws -> Void) rethrows -> Double {
        let start = DispatchTime.now().uptimeNanoseconds
        try body()
        return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
    }

    @Test("GGML quantize 4096×4096", arguments: [GGMLType.Q4_0, .Q8_0, .Q4_K, .Q6_K])
    func ggml(_ t: GGMLType) throws {
        var out = [UInt8](repeating: 0, count: t.byteCount(elements: Self.weights.count)!)
        let s = try seconds {
            try Self.weights.withUnsafeBufferPointer { src in
                try out.withUnsafeMutableBytes { try GGMLCodec.quantize(t, src, into: $0) }
            }
        }
        print("bench quantize \(t.name): \(String(format: "%.3f", s)) s")
    }

    @Test("MLX affine quantize 4096×4096", arguments: [(DType.f32, 4), (.f32, 8), (.bf16, 4), (.bf16, 8)])
    func affine(_ dtype: DType, _ bits: Int) throws {
        var bytes = [UInt8](repeating: 0, count: Self.weights.count * dtype.byteSize!)
        try Self.weights.withUnsafeBufferPointer { src in
            try bytes.withUnsafeMutableBytes { try Scalars.narrow(src, to: dtype, into: $0) }
        }
        let s = try seconds {
            _ = try bytes.withUnsafeBytes { try Affine.quantize($0, dtype: dtype, shape: [4096, 4096], bits: bits, groupSize: 64) }
        }
        print("bench affine \(dtype.rawValue) \(bits)-bit g64: \(String(format: "%.3f", s)) s")
    }
}
