// The quantizers against their references on issue 3's shapes (4096×4096), one JSON object per
// line; peers (gguf-py, mx.quantize, llama.cpp's llama_model_quantize) are timed by
// Benchmarks/peers.py in the same `make bench` run.
import Convert
import Dispatch
import Formats
import BenchSupport
import Foundation
import Quantize



func emit(_ name: String, _ seconds: Double) { emit(name, ["seconds": seconds]) }

func run(ggufInput: String?, work: String) throws {
    let n = 4096 * 4096
    var state: UInt64 = 0x9E37_79B9_7F4A_7C15
    let weights = (0..<n).map { _ -> Float in
        // xorshift → roughly normal via the sum of four uniforms
        var s: Float = 0
        for _ in 0..<4 {
            state ^= state << 13; state ^= state >> 7; state ^= state << 17
            s += Float(state >> 40) / Float(1 << 24)
        }
        return (s - 2) * 1.7
    }
    for t in [GGMLType.Q4_0, .Q8_0, .Q4_K, .Q6_K] {
        guard let size = t.byteCount(elements: n) else { continue }
        var out = [UInt8](repeating: 0, count: size)
        let s = try best(3) {
            try weights.withUnsafeBufferPointer { src in
                try out.withUnsafeMutableBytes { try GGMLCodec.quantize(t, src, into: $0) }
            }
        }
        emit("ckpt_quantize_\(t.name)", s)
    }
    for dtype in [DType.f32, .bf16] {
        var bytes = [UInt8](repeating: 0, count: n * (dtype.byteSize ?? 4))
        try weights.withUnsafeBufferPointer { src in
            try bytes.withUnsafeMutableBytes { try Scalars.narrow(src, to: dtype, into: $0) }
        }
        for bits in [4, 8] {
            let s = try best(3) {
                _ = try bytes.withUnsafeBytes {
                    try Affine.quantize($0, dtype: dtype, shape: [4096, 4096], bits: bits, groupSize: 64)
                }
            }
            emit("ckpt_affine_\(dtype.rawValue)_\(bits)bit_g64", s)
        }
    }
    // The whole job llama-quantize does on the same GGUF: read, quantize, write.
    if let ggufInput {
        for t in ["Q4_K", "Q6_K"] {
            let dst = "\(work)/quant-bench-\(t).gguf"
            guard let preset = GGUFPreset(name: t) else { continue }
            let s = try best(2) {
                _ = try Converter.convert(ConversionRequest(
                    source: ggufInput, destination: dst, gguf: .init(preset: preset, pure: true)))
            }
            emit("ckpt_convert_gguf_\(t)", s)
            try? FileManager.default.removeItem(atPath: dst)
        }
    }
}

let args = CommandLine.arguments
try run(ggufInput: args.count > 1 ? args[1] : nil, work: args.count > 2 ? args[2] : NSTemporaryDirectory())
