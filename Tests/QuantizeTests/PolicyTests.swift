import Foundation
import Testing
import Formats
import TestSupport
@testable import Quantize

/// A LLaMA-style GGUF tensor list: `layers` blocks, F16 weights, F32 norms.
func llamaTensors(layers: Int, tied: Bool = false, hidden: Int = 512, ffn: Int = 1024) -> [TensorInfo] {
    func t(_ name: String, _ shape: [Int], _ d: DType = .f16) -> TensorInfo {
        TensorInfo(name: name, type: .dense(d), shape: shape, byteCount: 0)
    }
    var out = [t("token_embd.weight", [1000, hidden]), t("output_norm.weight", [hidden], .f32)]
    if !tied { out.append(t("output.weight", [1000, hidden])) }
    for i in 0..<layers {
        out += [
            t("blk.\(i).attn_norm.weight", [hidden], .f32), t("blk.\(i).attn_q.weight", [hidden, hidden]),
            t("blk.\(i).attn_k.weight", [hidden / 4, hidden]), t("blk.\(i).attn_v.weight", [hidden / 4, hidden]),
            t("blk.\(i).attn_output.weight", [hidden, hidden]), t("blk.\(i).ffn_norm.weight", [hidden], .f32),
            t("blk.\(i).ffn_gate.weight", [ffn, hidden]), t("blk.\(i).ffn_up.weight", [ffn, hidden]),
            t("blk.\(i).ffn_down.weight", [hidden, ffn]),
        ]
    }
    return out
}

@Suite("Quantization policies")
struct PolicyTests {
    static let llama32 = GGUFModelInfo(architecture: "llama", layerCount: 32, headCount: 32, headCountKV: 8)

    func choices(_ preset: GGUFPreset, _ tensors: [TensorInfo], _ model: GGUFModelInfo = llama32) throws -> [String: String] {
        let plan = try LlamaQuantizePolicy(preset: preset, model: model).plan(tensors)
        return Dictionary(uniqueKeysWithValues: zip(tensors.map(\.name), plan.choices.map(\.description)))
    }

    @Test("use_more_bits picks the documented layers for n = 32 and n = 30")
    func moreBits() {
        #expect((0..<32).filter { useMoreBits($0, 32) } == [0, 1, 2, 3, 6, 9, 12, 15, 18, 21, 24, 27, 28, 29, 30, 31])
        #expect((0..<30).filter { useMoreBits($0, 30) } == [0, 1, 2, 5, 8, 11, 14, 17, 20, 23, 26, 27, 28, 29])
    }

    @Test("Q4_K_M on a 32-layer LLaMA: the mix of formats-gguf.md §3.4")
    func q4KM() throws {
        let c = try choices(.Q4_K_M, llamaTensors(layers: 32))
        #expect(c["output.weight"] == "Q6_K")
        #expect(c["token_embd.weight"] == "Q4_K")
        #expect(c["output_norm.weight"] == "keep")
        #expect(c["blk.5.attn_norm.weight"] == "keep")
        for i in 0..<32 {
            let more = useMoreBits(i, 32)
            #expect(c["blk.\(i).attn_v.weight"] == (more ? "Q6_K" : "Q4_K"), "layer \(i)")
            #expect(c["blk.\(i).ffn_down.weight"] == (more ? "Q6_K" : "Q4_K"), "layer \(i)")
            #expect(c["blk.\(i).attn_q.weight"] == "Q4_K")
            #expect(c["blk.\(i).attn_output.weight"] == "Q4_K")
            #expect(c["blk.\(i).ffn_up.weight"] == "Q4_K")
        }
    }

    @Test("Q3_K_M, Q4_K_S and Q2_K follow their attn_v / ffn_down / attn_output rules")
    func otherPresets() throws {
        let t = llamaTensors(layers: 32)
        let q3 = try choices(.Q3_K_M, t)
        #expect(q3["blk.0.attn_v.weight"] == "Q5_K" && q3["blk.1.attn_v.weight"] == "Q5_K" && q3["blk.2.attn_v.weight"] == "Q4_K")
        #expect(q3["blk.1.ffn_down.weight"] == "Q5_K" && q3["blk.2.ffn_down.weight"] == "Q4_K")
        #expect(q3["blk.7.attn_output.weight"] == "Q4_K" && q3["blk.7.attn_q.weight"] == "Q3_K")
        let q4s = try choices(.Q4_K_S, t)
        #expect(q4s["blk.3.attn_v.weight"] == "Q5_K" && q4s["blk.4.attn_v.weight"] == "Q4_K")
        #expect(q4s["blk.3.ffn_down.weight"] == "Q5_K" && q4s["blk.4.ffn_down.weight"] == "Q4_K")
        let q2 = try choices(.Q2_K, t)
        #expect(q2["blk.9.attn_v.weight"] == "Q4_K")  // n_gqa = 4
        #expect(q2["blk.9.ffn_down.weight"] == "Q3_K" && q2["blk.9.attn_output.weight"] == "Q3_K")
        let q8 = try choices(.Q8_0, t)
        #expect(Set(q8.values) == ["Q8_0", "keep"])
        let f16 = try choices(.F16, t)
        #expect(f16["output.weight"] == "F16" && f16["blk.0.attn_norm.weight"] == "keep")
    }

    @Test("tied embeddings give token_embd the output rule (Q6_K, Q8_0 for Q8_0)")
    func tied() throws {
        let smol = GGUFModelInfo(architecture: "llama", layerCount: 30, headCount: 9, headCountKV: 3)
        #expect(try choices(.Q4_K_M, llamaTensors(layers: 30, tied: true), smol)["token_embd.weight"] == "Q6_K")
        #expect(try choices(.Q4_0, llamaTensors(layers: 2, tied: true), smol)["token_embd.weight"] == "Q6_K")
        #expect(try choices(.Q8_0, llamaTensors(layers: 2, tied: true), smol)["token_embd.weight"] == "Q8_0")
    }

    @Test("rows that are not whole blocks fall back (Q4_K → Q5_0, Q6_K → Q8_0, then F16); Q8_0 has no fallback")
    func fallbacks() throws {
        let smol = GGUFModelInfo(architecture: "llama", layerCount: 30, headCount: 9, headCountKV: 3)
        let tensors = llamaTensors(layers: 30, tied: true, hidden: 576, ffn: 1536)
        let policy = LlamaQuantizePolicy(preset: .Q4_K_M, model: smol)
        let plan = try policy.plan(tensors)
        let c = Dictionary(uniqueKeysWithValues: zip(tensors.map(\.name), plan.choices.map(\.description)))
        #expect(c["blk.4.attn_q.weight"] == "Q5_0")        // 576 % 256 != 0
        #expect(c["blk.0.attn_v.weight"] == "Q8_0")        // Q6_K → Q8_0
        #expect(c["blk.4.ffn_down.weight"] == "Q4_K")      // row 1536 fits
        #expect(c["token_embd.weight"] == "Q8_0")          // output rule: 576 % 256 → Q8_0
        #expect(plan.fallbacks.contains("blk.4.attn_q.weight"))
        let odd = [TensorInfo(name: "blk.0.attn_q.weight", type: .dense(.f16), shape: [8, 48], byteCount: 0)]
        let oddPlan = try LlamaQuantizePolicy(preset: .Q4_K_M, model: smol).plan(odd)
        #expect(oddPlan.choices == [.ggml(.F16)])
        #expect(throws: QuantizeError.self) { try LlamaQuantizePolicy(preset: .Q8_0, model: smol).plan(odd) }
    }

    @Test("--pure, overrides and a plain tensor file")
    func options() throws {
        var p = LlamaQuantizePolicy(preset: .Q4_K_M, model: Self.llama32)
        p.pure = true
        let t = llamaTensors(layers: 4)
        #expect(Set(try p.plan(t).choices) == [.ggml(.Q4_K), .keep])
        p.pure = false
        p.tensorTypeOverrides = [(pattern: "ffn_(up|gate)", type: .Q8_0)]
        p.outputTensorType = .Q8_0
        let c = Dictionary(uniqueKeysWithValues: zip(t.map(\.name), try p.plan(t).choices))
        #expect(c["blk.2.ffn_up.weight"] == .ggml(.Q8_0) && c["blk.2.ffn_gate.weight"] == .ggml(.Q8_0))
        #expect(c["output.weight"] == .ggml(.Q8_0))
        let plain = LlamaQuantizePolicy(preset: .Q4_0, model: nil)
        let tensors = [
            TensorInfo(name: "a", type: .dense(.f32), shape: [4, 64], byteCount: 0),
            TensorInfo(name: "b", type: .dense(.f32), shape: [4, 48], byteCount: 0),
            TensorInfo(name: "c", type: .dense(.f32), shape: [64], byteCount: 0),
            TensorInfo(name: "d", type: .dense(.i32), shape: [4, 64], byteCount: 0),
        ]
        #expect(try plain.plan(tensors).choices == [.ggml(.Q4_0), .keep, .keep, .keep])
        #expect(GGUFPreset(name: "q4_k") == .Q4_K_M && GGUFPreset(name: "Q5_K_S") == .Q5_K_S && GGUFPreset(name: "Q9") == nil)
        #expect(GGUFPreset.Q4_K_M.fileType == 15)
    }

    @Test("mlx-lm default: Linear/Embedding weights whose last dim divides by the group; the rest kept")
    func mlxDefault() throws {
        let p = try MLXQuantizePolicy(bits: 4, groupSize: 64)
        func t(_ n: String, _ s: [Int], _ d: DType = .bf16) -> TensorInfo { TensorInfo(name: n, type: .dense(d), shape: s, byteCount: 0) }
        #expect(p.choice(for: t("model.layers.0.mlp.down_proj.weight", [576, 1536])) == .affine(bits: 4, groupSize: 64))
        #expect(p.choice(for: t("model.embed_tokens.weight", [1000, 576])) == .affine(bits: 4, groupSize: 64))
        #expect(p.choice(for: t("model.norm.weight", [576])) == .keep)
        #expect(p.choice(for: t("model.layers.0.self_attn.q_proj.bias", [576])) == .keep)
        #expect(p.choice(for: t("model.layers.0.mlp.down_proj.weight", [576, 60])) == .keep)
        #expect(p.choice(for: t("vision_tower.blocks.0.proj.weight", [64, 64])) == .keep)
        #expect(p.choice(for: t("model.layers.0.mlp.down_proj.weight", [64, 64], .i32)) == .keep)
        #expect(throws: QuantizeError.self) { try MLXQuantizePolicy(bits: 7) }
        #expect(throws: QuantizeError.self) { try MLXQuantizePolicy(recipe: .mixed_3_6) }
    }

    @Test("mixed_3_6: 6 bits for v_proj/down_proj on use_more_bits layers and lm_head, 3 elsewhere")
    func mlxRecipe() throws {
        let p = try MLXQuantizePolicy(recipe: .mixed_3_6, layerCount: 30)
        func w(_ n: String) -> TensorInfo { TensorInfo(name: n, type: .dense(.f16), shape: [576, 576], byteCount: 0) }
        #expect(p.choice(for: w("model.layers.2.self_attn.v_proj.weight")) == .affine(bits: 6, groupSize: 64))
        #expect(p.choice(for: w("model.layers.3.self_attn.v_proj.weight")) == .affine(bits: 3, groupSize: 64))
        #expect(p.choice(for: w("model.layers.5.mlp.down_proj.weight")) == .affine(bits: 6, groupSize: 64))
        #expect(p.choice(for: w("model.layers.5.mlp.up_proj.weight")) == .affine(bits: 3, groupSize: 64))
        #expect(p.choice(for: w("lm_head.weight")) == .affine(bits: 6, groupSize: 64))
        #expect(p.choice(for: w("model.embed_tokens.weight")) == .affine(bits: 3, groupSize: 64))  // mlx-lm 0.32.2
        var o = p
        o.overrides = ["model.layers.5.mlp.up_proj": .keep]
        #expect(o.choice(for: w("model.layers.5.mlp.up_proj.weight")) == .keep)
        let entries = o.configEntries([w("model.layers.5.mlp.up_proj.weight"), w("model.layers.5.mlp.down_proj.weight")])
        #expect(entries.map(\.module) == ["model.layers.5.mlp.up_proj", "model.layers.5.mlp.down_proj"])
    }

    @Test("the MLX policy picks exactly the modules and bits mlx-lm 0.32.2's quantize_model does",
          arguments: ["default_g64", "default_g128", "mixed_2_6", "mixed_3_4", "mixed_3_6", "mixed_4_6"])
    func mlxLMOracle(_ name: String) throws {
        let data = try Data(contentsOf: URL(fileURLWithPath: TestPaths.fixture("policy/mlx_lm.json")))
        let root = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        let tensors = try #require(root["tensors"] as? [[Any]]).map { pair in
            TensorInfo(name: pair[0] as! String, type: .dense(.f32), shape: pair[1] as! [Int], byteCount: 0)
        }
        let expected = try #require(root[name] as? [String: [Int]])
        let policy = try MLXQuantizePolicy(bits: 4, groupSize: name == "default_g128" ? 128 : 64,
                                           recipe: name.hasPrefix("mixed") ? MLXRecipe(rawValue: name) : nil, layerCount: 16)
        var got: [String: [Int]] = [:]
        for t in tensors {
            if case .affine(let b, let g) = policy.choice(for: t) { got[String(t.name.dropLast(".weight".count))] = [b, g] }
        }
        #expect(got == expected)
    }
}
