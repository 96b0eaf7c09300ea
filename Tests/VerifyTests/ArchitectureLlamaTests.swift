import Compute
import Formats
import Foundation
import TestSupport
import Testing

@testable import Verify

/// Arrays from the fixtures' `.npy` files (numpy wrote them, little-endian, C order).
enum FixtureArrays {
    static func floats(_ path: String) throws -> (shape: [Int], values: [Float]) {
        let source = try Checkpoint.open(path)
        let info = try #require(source.tensors.first)
        #expect(info.type == .dense(.f32))
        let bytes = try source.bytes(of: info)
        let values = (0..<info.elementCount).map { i in
            Float(
                bitPattern: bytes.raw.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self)
                    .littleEndian)
        }
        return (info.shape, values)
    }

    static func int32s(_ path: String) throws -> [Int32] {
        let source = try Checkpoint.open(path)
        let info = try #require(source.tensors.first)
        let bytes = try source.bytes(of: info)
        return (0..<info.elementCount).map { i in
            Int32(littleEndian: bytes.raw.loadUnaligned(fromByteOffset: 4 * i, as: Int32.self))
        }
    }

    /// max |a - b| / max |b|: the error relative to the largest reference value.
    static func relativeError(_ a: [Float], _ b: [Float]) -> Float {
        let scale = b.map(abs).max() ?? 1
        return zip(a, b).map { abs($0 - $1) }.max().map { $0 / scale } ?? 0
    }
}

@Suite("LLaMA-family architectures")
struct ArchitectureLlamaTests {
    static let models = TestPaths.fixture("models")

    /// (model path, reference logits) made by make_models.py with transformers + torch.
    static let cases: [(String, String)] = [
        ("llama_gqa", "llama_gqa"),  // GQA, untied, transformers 5 config, safetensors F32
        ("llama_tied", "llama_tied"),  // tied, llama3 rope scaling, pytorch_model.bin, tf4 config
        ("mistral", "mistral"),  // 1 kv head, tf4 config
        ("qwen2", "qwen2"),  // q/k/v biases, BF16 weights
        ("llama_gqa.gguf", "llama_gqa_gguf"),  // llama.cpp layout: names, Q/K permuted, Q8_0
        ("llama_gqa_mlx", "llama_gqa_mlx"),  // mlx-lm 4-bit g32 + an 8-bit override; mlx's logits
    ]

    @Test("Logits match torch's within 1e-4 of the largest logit", arguments: cases)
    func logitsMatchTorch(model: String, reference: String) throws {
        let tokens = try FixtureArrays.int32s(Self.models + "/tokens.npy")
        let expected = try FixtureArrays.floats(Self.models + "/\(reference).logits.npy")
        let out = try ForwardPass.run(model: Self.models + "/" + model, tokens: tokens)
        #expect(out.shape == expected.shape)
        let err = FixtureArrays.relativeError(out.floats, expected.values)
        #expect(err < 1e-4, "\(model): relative error \(err)")
    }

    @Test("The reference backend agrees with the CPU backend on a full model")
    func referenceBackendAgrees() throws {
        let model = try ModelRegistry.load(path: Self.models + "/llama_gqa.gguf")
        let tokens: [Int32] = [3, 1, 4, 1, 5]
        let cpu = try ForwardPass.run(model, tokens: tokens).floats
        let ref = try ForwardPass.run(
            model, tokens: tokens, options: EvalOptions(backend: .reference)
        ).floats
        #expect(FixtureArrays.relativeError(cpu, ref) < 1e-5)
    }

    @Test("Configurations as transformers 4 and 5 write them")
    func configurations() throws {
        let v5 = try ModelDirectory(path: Self.models + "/llama_gqa").configuration
        let c5 = try LlamaConfiguration(configuration: v5)
        #expect(c5.headCount == 4 && c5.kvHeadCount == 2 && c5.headDimension == 16)
        #expect(c5.rope.theta == 10000 && c5.rope.scaling == .none && !c5.tieWordEmbeddings)
        let tied = try LlamaConfiguration(
            configuration: try ModelDirectory(path: Self.models + "/llama_tied").configuration)
        #expect(tied.tieWordEmbeddings && tied.rope.theta == 500000)
        #expect(tied.rope.scaling == .llama3(factor: 8, low: 1, high: 4, originalContext: 16))
        let qwen = try LlamaConfiguration(
            configuration: try ModelDirectory(path: Self.models + "/qwen2").configuration)
        #expect(qwen.family == .qwen2 && qwen.attentionBias && !qwen.outputBias)
        #expect(qwen.rope.theta == 1_000_000)
    }

    @Test("Llama 3 frequencies equal llama.cpp's rope_freqs divisors applied to plain RoPE")
    func llama3Frequencies() {
        // The converter's formula (formats-gguf.md §4.4), in Double as Python computes it.
        let (base, dim, factor, low, high, old) = (500000.0, 16, 8.0, 1.0, 4.0, 16.0)
        let scaled = RopeConfiguration(
            theta: base, scaling: .llama3(factor: 8, low: 1, high: 4, originalContext: 16))
        let plain = RopeConfiguration(theta: base)
        var divisors: [Float] = []
        for i in stride(from: 0, to: dim, by: 2) {
            let f = 1 / Foundation.pow(base, Double(i) / Double(dim))
            let wl = 2 * Double.pi / f
            if wl < old / high {
                divisors.append(1)
            } else if wl > old / low {
                divisors.append(Float(factor))
            } else {
                let s = (old / wl - low) / (high - low)
                divisors.append(Float(1 / ((1 - s) / factor + s)))
            }
        }
        #expect(Set(divisors).count > 1, "the fixture's settings exercise the scaling")
        var viaGGUF = plain
        viaGGUF.frequencyDivisors = divisors
        let a = scaled.inverseFrequencies(dimension: dim)
        let b = viaGGUF.inverseFrequencies(dimension: dim)
        for (x, y) in zip(a, b) { #expect(abs(x - y) <= 1e-6 * abs(y)) }
    }

    @Test("GGUF q/k rows map back as the inverse of convert_hf_to_gguf's permute")
    func qkRowMap() {
        // permute(W, H=2) for D=4: GGUF rows [0, 2, 1, 3, 4, 6, 5, 7] of HF; so HF row r is
        // stored at the position where it appears.
        let stored = ggufQKStoredRows(rows: 8, heads: 2)
        let gguf = [0, 2, 1, 3, 4, 6, 5, 7]  // HF row held by each GGUF row
        for (hfRow, at) in stored.enumerated() { #expect(gguf[at] == hfRow) }
        #expect(Set(stored).count == 8)
    }

    @Test(
        "GGUF names follow gguf-py's tensor map",
        arguments: [
            ("model.embed_tokens.weight", "token_embd.weight"),
            ("lm_head.weight", "output.weight"),
            ("model.norm.weight", "output_norm.weight"),
            ("model.layers.3.self_attn.q_proj.bias", "blk.3.attn_q.bias"),
            ("model.layers.12.self_attn.o_proj.weight", "blk.12.attn_output.weight"),
            ("model.layers.0.post_attention_layernorm.weight", "blk.0.ffn_norm.weight"),
            ("model.layers.1.mlp.down_proj.weight", "blk.1.ffn_down.weight"),
        ])
    func ggufNames(hf: String, gguf: String) {
        #expect(LlamaConfiguration.ggufName(hf) == gguf)
    }
}
