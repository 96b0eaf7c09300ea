import Formats
import Testing

@testable import Quantize

@Suite("Quantization overrides")
struct OverrideTests {
    @Test("rules parse: ggml types, affine bits and groups, keep, layer ranges", arguments: [
        ("attn_v=Q8_0", "attn_v", nil, TensorQuantization.ggml(.Q8_0)),
        ("ffn_down@0-3=q6_k", "ffn_down", 0...3, .ggml(.Q6_K)),
        ("lm_head=affine:8", "lm_head", nil, .affine(bits: 8, groupSize: 64)),
        ("x=affine:4:32", "x", nil, .affine(bits: 4, groupSize: 32)),
        ("a=b=keep", "a=b", nil, .keep),
        ("mlp@5=F16", "mlp", 5...5, .ggml(.F16)),
    ] as [(String, String, ClosedRange<Int>?, TensorQuantization)])
    func parse(spec: String, pattern: String, layers: ClosedRange<Int>?, choice: TensorQuantization) throws {
        let o = try QuantizationOverride(parsing: spec)
        #expect(o.pattern == pattern)
        #expect(o.layers == layers)
        #expect(o.choice == choice)
    }

    @Test("bad rules are errors", arguments: ["attn_v", "=Q8_0", "x=Q9_9", "x=affine:7", "x=affine:4:48",
                                              "x@3-1=Q8_0", "x@a=Q8_0", "(unclosed=Q8_0"])
    func bad(spec: String) {
        #expect(throws: QuantizeError.self) { try QuantizationOverride(parsing: spec) }
    }

    @Test("matching: regex anywhere in the name, layer from the first numeric part")
    func matching() throws {
        let o = try QuantizationOverride(parsing: "attn_(q|k)@2-3=Q8_0")
        #expect(o.matches("blk.2.attn_q.weight"))
        #expect(o.matches("blk.3.attn_k.weight"))
        #expect(!o.matches("blk.4.attn_q.weight"))
        #expect(!o.matches("blk.2.attn_v.weight"))
        #expect(!o.matches("output.weight"))
        let anchored = try QuantizationOverride(parsing: #"^output\.weight$=Q6_K"#)
        #expect(anchored.matches("output.weight"))
        #expect(!anchored.matches("output_norm.weight"))
        let rules = [try QuantizationOverride(parsing: "attn=keep"), try QuantizationOverride(parsing: "attn_q=Q8_0")]
        #expect(QuantizationOverride.first(in: rules, matching: "blk.0.attn_q.weight")?.choice == .keep)
    }

    @Test("per-layer MLX config entries: differing layers and kept layers")
    func mlxConfig() throws {
        let p = try MLXQuantizationPolicy(bits: 4, groupSize: 64)
        let q = p.configEntry(choices: [
            ("model.layers.0.mlp.down_proj.weight", .affine(bits: 8, groupSize: 64)),
            ("model.layers.0.mlp.up_proj.weight", .affine(bits: 4, groupSize: 64)),
            ("lm_head.weight", .keep),
        ], perLayer: true)
        #expect(q["model.layers.0.mlp.down_proj"]?["bits"] == .int64(8))
        #expect(q["model.layers.0.mlp.up_proj"] == nil)
        #expect(q["lm_head"] == .bool(false))
        #expect(q["bits"] == .int64(4))
    }
}
