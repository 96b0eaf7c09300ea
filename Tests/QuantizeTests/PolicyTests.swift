import Formats
import Testing

@testable import Quantize

/// A LLaMA-family model's GGUF tensors (untied unless `tied`), with rows `width` wide.
func llamaTensors(layers: Int, width: Int, ffn: Int, kvWidth: Int, vocab: Int = 1000, tied: Bool = false)
    -> [GGUFTensorShape]
{
    var t: [GGUFTensorShape] = [
        .init(name: "token_embd.weight", shape: [vocab, width]),
        .init(name: "output_norm.weight", shape: [width]),
    ]
    if !tied { t.append(.init(name: "output.weight", shape: [vocab, width])) }
    for i in 0..<layers {
        let p = "blk.\(i)."
        t += [
            .init(name: p + "attn_norm.weight", shape: [width]),
            .init(name: p + "attn_q.weight", shape: [width, width]),
            .init(name: p + "attn_k.weight", shape: [kvWidth, width]),
            .init(name: p + "attn_v.weight", shape: [kvWidth, width]),
            .init(name: p + "attn_output.weight", shape: [width, width]),
            .init(name: p + "ffn_norm.weight", shape: [width]),
            .init(name: p + "ffn_gate.weight", shape: [ffn, width]),
            .init(name: p + "ffn_up.weight", shape: [ffn, width]),
            .init(name: p + "ffn_down.weight", shape: [width, ffn]),
        ]
    }
    return t
}

@Suite("llama-quantize's per-tensor type rules")
struct LlamaQuantizeRulesTests {
    @Test("use_more_bits picks the layers the reference lists for 32, 24 and 30 layers")
    func moreBits() {
        let pick = { (n: Int) in (0..<n).filter { LlamaQuantizeRules.useMoreBits($0, n) } }
        #expect(pick(32) == [0, 1, 2, 3, 6, 9, 12, 15, 18, 21, 24, 27, 28, 29, 30, 31])
        #expect(pick(24) == [0, 1, 2, 5, 8, 11, 14, 17, 20, 21, 22, 23])
        #expect(pick(30) == [0, 1, 2, 5, 8, 11, 14, 17, 20, 23, 26, 27, 28, 29])
    }

    @Test("tensors are processed non-block first, then by layer number, then by name")
    func order() {
        let names = ["blk.10.attn_q.weight", "token_embd.weight", "blk.2.ffn_up.weight", "output.weight",
                     "blk.2.attn_k.weight", "output_norm.weight"]
        #expect(LlamaQuantizeRules.order(names) == [
            "output.weight", "output_norm.weight", "token_embd.weight", "blk.2.attn_k.weight",
            "blk.2.ffn_up.weight", "blk.10.attn_q.weight",
        ])
    }

    @Test("Q4_K_M on a 32-layer model: Q6_K for attn_v / ffn_down on use_more_bits layers, output Q6_K")
    func q4KM() throws {
        let model = GGUFModelShape(architecture: "llama", layerCount: 32, headCount: 32, headCountKV: 8)
        let tensors = llamaTensors(layers: 32, width: 4096, ffn: 11008, kvWidth: 1024)
        let preset = try #require(GGUFPreset(name: "Q4_K_M"))
        let c = try LlamaQuantizeRules.choose(preset: preset, tensors: tensors, model: model)
        let type = Dictionary(uniqueKeysWithValues: c.map { ($0.name, $0.type) })
        #expect(type["output.weight"] == .ggml(.Q6_K))
        #expect(type["token_embd.weight"] == .ggml(.Q4_K))
        #expect(type["output_norm.weight"] == .keep)
        #expect(type["blk.0.attn_norm.weight"] == .keep)
        for i in 0..<32 {
            let more = LlamaQuantizeRules.useMoreBits(i, 32)
            #expect(type["blk.\(i).attn_v.weight"] == .ggml(more ? .Q6_K : .Q4_K))
            // ffn_down rows are 11008 = 43 × 256 wide: the K types fit.
            #expect(type["blk.\(i).ffn_down.weight"] == .ggml(more ? .Q6_K : .Q4_K))
            #expect(type["blk.\(i).attn_q.weight"] == .ggml(.Q4_K))
            #expect(type["blk.\(i).ffn_up.weight"] == .ggml(.Q4_K))
        }
        #expect(c.allSatisfy { $0.fallbackFrom == nil })
        #expect(preset.fileType == 15)
    }

    @Test("SmolLM2-like (576 wide, tied, 30 layers): K presets fall back to Q5_0 / Q8_0")
    func smolLM2Fallback() throws {
        let model = GGUFModelShape(architecture: "llama", layerCount: 30, headCount: 9, headCountKV: 3)
        let tensors = llamaTensors(layers: 30, width: 576, ffn: 1536, kvWidth: 192, vocab: 49152, tied: true)
        let c = try LlamaQuantizeRules.choose(
            preset: try #require(GGUFPreset(name: "Q4_K_M")), tensors: tensors, model: model)
        let type = Dictionary(uniqueKeysWithValues: c.map { ($0.name, $0.type) })
        // Tied embedding takes the output rule; 576 % 256 != 0 → Q8_0.
        #expect(type["token_embd.weight"] == .ggml(.Q8_0))
        #expect(type["blk.0.attn_q.weight"] == .ggml(.Q5_0))   // Q4_K → Q5_0
        #expect(type["blk.0.attn_v.weight"] == .ggml(.Q8_0))   // Q6_K → Q8_0 (more bits)
        #expect(type["blk.3.attn_v.weight"] == .ggml(.Q5_0))
        // ffn_down rows are 1536 = 6 × 256 wide: K types fit there.
        #expect(type["blk.0.ffn_down.weight"] == .ggml(.Q6_K))
        #expect(type["blk.3.ffn_down.weight"] == .ggml(.Q4_K))
    }

    @Test("Q8_0 with a row that is not a multiple of 32 has no fallback and is an error")
    func noFallback() throws {
        let model = GGUFModelShape(architecture: "llama", layerCount: 1, headCount: 1, headCountKV: 1)
        let tensors = [GGUFTensorShape(name: "blk.0.attn_q.weight", shape: [8, 40])]
        #expect(throws: QuantizeError.self) {
            try LlamaQuantizeRules.choose(
                preset: GGUFPreset(baseType: .Q8_0), tensors: tensors, model: model)
        }
    }

    @Test("pure mode gives every quantizable tensor the base type")
    func pure() throws {
        let model = GGUFModelShape(architecture: "llama", layerCount: 4, headCount: 4, headCountKV: 4)
        let tensors = llamaTensors(layers: 4, width: 512, ffn: 1024, kvWidth: 512)
        let c = try LlamaQuantizeRules.choose(
            preset: try #require(GGUFPreset(name: "Q4_K")), tensors: tensors, model: model, pure: true)
        #expect(Set(c.map(\.type)) == [.keep, .ggml(.Q4_K)])
    }

    @Test("preset names parse, with llama-quantize's aliases", arguments: [
        ("Q4_K_M", "Q4_K_M", UInt32(15)), ("q4_k", "Q4_K_M", 15), ("Q3_K", "Q3_K_M", 12),
        ("Q5_K_S", "Q5_K_S", 16), ("Q2_K", "Q2_K", 10), ("Q8_0", "Q8_0", 7), ("F16", "F16", 1),
        ("Q6_K", "Q6_K", 18), ("BF16", "BF16", 32),
    ])
    func names(name: String, canonical: String, fileType: UInt32) throws {
        let p = try #require(GGUFPreset(name: name))
        #expect(p.description == canonical)
        #expect(p.fileType == fileType)
    }

    @Test("unknown preset names are rejected", arguments: ["Q4_K_X", "Q7_0", "IQ2_XXS", ""])
    func badNames(name: String) {
        #expect(GGUFPreset(name: name) == nil)
    }
}

@Suite("mlx-lm's quantization policy")
struct MLXPolicyTests {
    @Test("Linear and Embedding weights are quantized; norms, biases, convs and odd widths are not")
    func which() throws {
        let p = try MLXQuantizationPolicy(bits: 4, groupSize: 64)
        let f32 = TensorType.dense(.f32)
        #expect(p.choose(name: "model.layers.0.self_attn.q_proj.weight", shape: [576, 576], dtype: f32) == .affine(bits: 4, groupSize: 64))
        #expect(p.choose(name: "model.embed_tokens.weight", shape: [49152, 576], dtype: f32) == .affine(bits: 4, groupSize: 64))
        #expect(p.choose(name: "model.layers.0.input_layernorm.weight", shape: [576], dtype: f32) == .keep)
        #expect(p.choose(name: "model.layers.0.self_attn.q_proj.bias", shape: [576], dtype: f32) == .keep)
        #expect(p.choose(name: "conv.weight", shape: [8, 3, 16], dtype: f32) == .keep)
        #expect(p.choose(name: "proj.weight", shape: [32, 60], dtype: f32) == .keep)  // 60 % 64 != 0
        #expect(p.choose(name: "ids.weight", shape: [4, 64], dtype: .dense(.i32)) == .keep)
    }

    @Test("mixed_3_6 puts v_proj / down_proj of use_more_bits layers and lm_head at 6 bits")
    func mixed() throws {
        let p = try MLXQuantizationPolicy(bits: 4, groupSize: 64, recipe: .mixed_3_6, layerCount: 30)
        let f = TensorType.dense(.bf16)
        #expect(p.choose(name: "model.layers.0.self_attn.v_proj.weight", shape: [192, 576], dtype: f) == .affine(bits: 6, groupSize: 64))
        #expect(p.choose(name: "model.layers.3.self_attn.v_proj.weight", shape: [192, 576], dtype: f) == .affine(bits: 3, groupSize: 64))
        #expect(p.choose(name: "model.layers.5.mlp.down_proj.weight", shape: [576, 1536], dtype: f) == .affine(bits: 6, groupSize: 64))
        #expect(p.choose(name: "model.layers.5.mlp.up_proj.weight", shape: [1536, 576], dtype: f) == .affine(bits: 3, groupSize: 64))
        #expect(p.choose(name: "lm_head.weight", shape: [49152, 576], dtype: f) == .affine(bits: 6, groupSize: 64))
        let entry = p.configEntry(choices: [("model.layers.0.self_attn.v_proj.weight", .affine(bits: 6, groupSize: 64))])
        #expect(entry["bits"] == .int64(4))
        #expect(entry["model.layers.0.self_attn.v_proj"]?["bits"] == .int64(6))
    }

    @Test("unsupported bits and group sizes are errors", arguments: [(7, 64), (1, 64), (4, 16), (8, 256)])
    func bad(bits: Int, group: Int) {
        #expect(throws: QuantizeError.self) { try MLXQuantizationPolicy(bits: bits, groupSize: group) }
    }
}
