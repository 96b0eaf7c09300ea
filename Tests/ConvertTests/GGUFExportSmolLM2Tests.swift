import Foundation
import Testing
import Compute
import Formats
import Quantize
import TestSupport
import Verify
@testable import Convert

/// The real SmolLM2-135M-Instruct: its GGUF (Q4_1, from llama.cpp's converter) taken back to a
/// Hugging Face directory by gguf-py (dequantized to F32, Q/K unpermuted, tokenizer.json
/// rebuilt from the vocabulary as transformers' GGUF loader does), then exported again by
/// ckpt and checked against the original file and against llama.cpp.
@Suite("HF to GGUF export: SmolLM2-135M", .serialized)
struct GGUFExportSmolLM2Tests {
    static let model = "smollm2-135m-instruct-q4_1.gguf"
    static let enabled = TestPaths.model(model) != nil && Python.has("llama_cpp")

    /// gguf-py → HF directory (no torch): names back, Q/K unpermuted, config, tokenizer.
    static let toHF = """
        import sys, json, os, numpy as np, gguf
        from gguf import quants
        from safetensors.numpy import save_file
        src, dst = sys.argv[1], sys.argv[2]
        r = gguf.GGUFReader(src)
        f = lambda k: r.fields[k].contents()
        arch = f("general.architecture"); assert arch == "llama"
        heads, kv = f("llama.attention.head_count"), f("llama.attention.head_count_kv")
        top = {"token_embd": "model.embed_tokens", "output_norm": "model.norm", "output": "lm_head"}
        layer = {"attn_norm": "input_layernorm", "attn_q": "self_attn.q_proj", "attn_k": "self_attn.k_proj",
                 "attn_v": "self_attn.v_proj", "attn_output": "self_attn.o_proj",
                 "ffn_norm": "post_attention_layernorm", "ffn_gate": "mlp.gate_proj",
                 "ffn_up": "mlp.up_proj", "ffn_down": "mlp.down_proj"}
        def unpermute(w, n):
            return w.reshape(n, w.shape[0] // n // 2, 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)
        state = {}
        for t in r.tensors:
            a = quants.dequantize(t.data, t.tensor_type).astype(np.float32)
            a = a.reshape([int(x) for x in reversed(t.shape)])
            stem, kind = t.name.rsplit(".", 1)
            if stem.startswith("blk."):
                _, i, part = stem.split(".")
                name = f"model.layers.{i}.{layer[part]}.{kind}"
                if part == "attn_q": a = unpermute(a, heads)
                if part == "attn_k": a = unpermute(a, kv)
            else:
                name = f"{top[stem]}.{kind}"
            state[name] = np.ascontiguousarray(a)
        os.makedirs(dst, exist_ok=True)
        save_file(state, os.path.join(dst, "model.safetensors"), metadata={"format": "pt"})
        tokens, types = f("tokenizer.ggml.tokens"), f("tokenizer.ggml.token_type")
        config = {"architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_act": "silu",
                  "hidden_size": f("llama.embedding_length"), "intermediate_size": f("llama.feed_forward_length"),
                  "num_hidden_layers": f("llama.block_count"), "num_attention_heads": heads,
                  "num_key_value_heads": kv, "vocab_size": len(tokens),
                  "max_position_embeddings": f("llama.context_length"),
                  "rms_norm_eps": float(np.float32(f("llama.attention.layer_norm_rms_epsilon"))),
                  "rope_theta": f("llama.rope.freq_base"), "tie_word_embeddings": "lm_head.weight" not in state,
                  "bos_token_id": f("tokenizer.ggml.bos_token_id"), "eos_token_id": f("tokenizer.ggml.eos_token_id")}
        json.dump(config, open(os.path.join(dst, "config.json"), "w"), indent=2)
        assert f("tokenizer.ggml.pre") == "smollm"
        added = [{"id": i, "content": t, "single_word": False, "lstrip": False, "rstrip": False,
                  "normalized": False, "special": True} for i, t in enumerate(tokens) if types[i] == 3]
        tj = {"version": "1.0", "truncation": None, "padding": None, "added_tokens": added, "normalizer": None,
              "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
                  {"type": "Digits", "individual_digits": True},
                  {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True}]},
              "post_processor": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": False, "use_regex": True},
              "decoder": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True},
              "model": {"type": "BPE", "fuse_unk": False, "byte_fallback": False, "ignore_merges": False,
                        "vocab": {t: i for i, t in enumerate(tokens)}, "merges": f("tokenizer.ggml.merges")}}
        json.dump(tj, open(os.path.join(dst, "tokenizer.json"), "w"), ensure_ascii=False)
        tc = {"tokenizer_class": "GPT2Tokenizer", "bos_token": tokens[f("tokenizer.ggml.bos_token_id")],
              "eos_token": tokens[f("tokenizer.ggml.eos_token_id")],
              "unk_token": tokens[f("tokenizer.ggml.unknown_token_id")],
              "pad_token": tokens[f("tokenizer.ggml.padding_token_id")],
              "chat_template": f("tokenizer.chat_template")}
        json.dump(tc, open(os.path.join(dst, "tokenizer_config.json"), "w"), indent=2)
        print("ok")
        """

    /// The HF directory, made once for the suite.
    static let hfDirectory: Result<String, any Error> = Result {
        guard let gguf = TestPaths.model(model) else { throw ConvertError("no model") }
        let dir = TestPaths.temporaryDirectory("ckpt-smollm2-hf") + "/SmolLM2-135M-Instruct"
        let r = try Python.run(toHF, [gguf, dir])
        guard r.status == 0 else {
            throw ConvertError("gguf → hf failed: \(r.stderr.suffix(2000))")
        }
        return dir
    }

    static func export(_ preset: String) throws -> String {
        let dir = try hfDirectory.get()
        let out = TestPaths.temporaryDirectory("ckpt-smollm2-gguf") + "/out-\(preset).gguf"
        _ = try Converter.convert(
            ConversionRequest(
                source: dir, destination: out,
                gguf: GGUFPreset(name: preset).map { .init(preset: $0) }))
        return out
    }

    /// The exports, made once for the suite (the debug-build quantizers take a while).
    static let exports: [String: Result<String, any Error>] = [
        "F32": Result { try export("F32") }, "Q8_0": Result { try export("Q8_0") },
    ]

    @Test("hparams and tokenizer metadata equal the original converter's", .enabled(if: enabled))
    func metadataMatchesOriginal() throws {
        let out = try #require(Self.exports["Q8_0"]).get()
        let ours = try GGUFFile(path: out)
        let original = try GGUFFile(path: try #require(TestPaths.model(Self.model)))
        // Model-card keys (name, organization, size label, …) come from the converter's
        // README heuristics; add_bos_token / add_space_prefix from a tokenizer_config this
        // directory does not have; file types differ by design.
        let skipped: Set<String> = [
            "general.name", "general.organization", "general.finetune", "general.basename",
            "general.size_label", "general.license", "general.languages", "general.file_type",
            "tokenizer.ggml.add_space_prefix", "tokenizer.ggml.add_bos_token",
        ]
        for (key, value) in original.metadata where !skipped.contains(key) {
            #expect(ours.metadata[key] == value, "\(key)")
        }
        #expect(Set(ours.tensors.map(\.name)) == Set(original.tensors.map(\.name)))
        for t in original.tensors {
            #expect(ours.tensor(named: t.name)?.shape == t.shape, "\(t.name)")
        }
    }

    @Test("llama.cpp tokenizes as tokenizer.json and as the original GGUF", .enabled(if: enabled))
    func tokenization() throws {
        let out = try #require(Self.exports["Q8_0"]).get()
        let script = """
            import sys, json, llama_cpp
            a = llama_cpp.Llama(model_path=sys.argv[1], vocab_only=True, verbose=False)
            b = llama_cpp.Llama(model_path=sys.argv[2], vocab_only=True, verbose=False)
            texts = json.loads(sys.argv[4])
            try:
                from tokenizers import Tokenizer
                hf = Tokenizer.from_file(sys.argv[3])
            except ImportError:
                hf = None
            for t in texts:
                ids = a.tokenize(t.encode(), add_bos=False, special=False)
                assert ids == b.tokenize(t.encode(), add_bos=False, special=False), t
                assert hf is None or ids == hf.encode(t, add_special_tokens=False).ids, t
            print("ok", hf is not None)
            """
        let texts = MetadataValue.array(TokenizerComparison.probeCorpus.map { .string($0) })
            .jsonString()
        let r = try Python.run(
            script,
            [
                out, try #require(TestPaths.model(Self.model)),
                try Self.hfDirectory.get() + "/tokenizer.json", texts,
            ])
        #expect(r.status == 0, "\(r.stderr.suffix(2000))")
        #expect(r.stdout.hasPrefix("ok"))
    }

    @Test(
        "llama.cpp's logits equal the engine's on the exported file", .enabled(if: enabled),
        arguments: ["F32", "Q8_0"])
    func logits(preset: String) throws {
        let out = try #require(Self.exports[preset]).get()
        let tokens: [Int32] = [1, 9690, 198, 2683, 359, 253, 5356, 5646, 2, 198]
        let ours = try ForwardPass.run(model: out, tokens: tokens).floats
        let theirs = try LlamaCpp.logits(out, tokens: tokens)
        try #require(ours.count == theirs.count)
        let scale = theirs.map(abs).max() ?? 1
        let worst = zip(ours, theirs).map { abs($0 - $1) }.max() ?? .infinity
        let tolerance: Float = preset == "F32" ? 1e-3 : 6e-2
        #expect(worst <= tolerance * scale, "max |Δ| \(worst / scale) of max |logit|")
    }
}
