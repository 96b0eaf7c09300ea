import Foundation
import Formats
import Verify

/// `config.json` and `generation_config.json` for a model imported from a GGUF, made from its
/// hyper-parameters so that transformers (`LlamaConfig`, `Qwen2Config`), mlx-lm and ckpt
/// build the same model from them.
///
/// RoPE settings are written the transformers 4 way (top-level `rope_theta` and
/// `rope_scaling`): transformers 5 still reads them, and mlx-lm 0.32 reads only those.
public enum GGUFImportConfig {
    /// The `config.json` members, in the order transformers writes them (sorted on output).
    /// - Parameters:
    ///   - dtype: the dtype the weights were written in (`torch_dtype`).
    ///   - notes: what could not be carried over, by GGUF tensor or key.
    public static func config(
        _ source: GGUFImportSource, dtype: DType, notes: inout [String: String]
    ) -> Metadata {
        let c = source.configuration
        let m = source.metadata
        let arch = m["general.architecture"]?.stringValue ?? "llama"
        var out = Metadata()
        let qwen2 = c.family == .qwen2
        out["architectures"] = .array(
            [.string(qwen2 ? "Qwen2ForCausalLM" : "LlamaForCausalLM")], elementType: .string)
        out["model_type"] = .string(qwen2 ? "qwen2" : "llama")
        out["hidden_size"] = int(c.hiddenSize)
        out["intermediate_size"] = int(c.intermediateSize)
        out["num_hidden_layers"] = int(c.layerCount)
        out["num_attention_heads"] = int(c.headCount)
        out["num_key_value_heads"] = int(c.kvHeadCount)
        out["head_dim"] = int(c.headDimension)
        out["hidden_act"] = .string("silu")
        out["rms_norm_eps"] = .float64(shortest(c.rmsNormEpsilon))
        out["rope_theta"] = .float64(shortest(Float(c.rope.theta)))
        out["rope_scaling"] = ropeScaling(c, notes: &notes)
        if let n = m["\(arch).context_length"]?.intValue, n > 0 {
            out["max_position_embeddings"] = .int64(n)
        }
        out["vocab_size"] = int(c.vocabularySize)
        out["tie_word_embeddings"] = .bool(c.tieWordEmbeddings)
        if qwen2 {
            out["use_sliding_window"] = .bool(false)
            out["max_window_layers"] = int(c.layerCount)
        } else {
            out["attention_bias"] = .bool(c.attentionBias)
            out["mlp_bias"] = .bool(false)
        }
        for key in ["bos_token_id", "eos_token_id", "pad_token_id"] {
            if let id = tokenID(m, key) { out[key] = .int64(Int64(id)) }
        }
        // transformers 5 reads `dtype`, 4 and mlx-lm's tooling `torch_dtype`.
        out["dtype"] = .string(torchName(dtype))
        out["torch_dtype"] = .string(torchName(dtype))
        out["use_cache"] = .bool(true)
        return out
    }

    /// `generation_config.json`: the special ids generation stops and pads on.
    public static func generationConfig(_ source: GGUFImportSource) -> Metadata {
        var out: Metadata = ["_from_model_config": .bool(true)]
        for key in ["bos_token_id", "eos_token_id", "pad_token_id"] {
            if let id = tokenID(source.metadata, key) { out[key] = .int64(Int64(id)) }
        }
        return out
    }

    /// A `tokenizer.ggml.*` id in range of the vocabulary (llama.cpp ignores the others).
    static func tokenID(_ m: Metadata, _ key: String) -> Int? {
        let ggufKey = key == "pad_token_id" ? "padding_token_id" : key
        guard let id = m["tokenizer.ggml.\(ggufKey)"]?.intValue, id >= 0 else { return nil }
        let count = m["tokenizer.ggml.tokens"]?.arrayValue?.count ?? Int.max
        return Int(id) < count ? Int(id) : nil
    }

    static func int(_ v: Int) -> MetadataValue { .int64(Int64(v)) }

    /// The double that prints as the float's shortest decimal (1e-05, not 9.99999974e-06):
    /// GGUF stores these as f32, config.json as the decimal the model author wrote.
    static func shortest(_ f: Float) -> Double { Double("\(f)") ?? Double(f) }

    /// transformers' dtype names.
    static func torchName(_ d: DType) -> String {
        switch d {
        case .f16: "float16"
        case .bf16: "bfloat16"
        default: "float32"
        }
    }

    /// `rope_scaling`: null, linear, or Llama 3's recovered from `rope_freqs.weight`.
    static func ropeScaling(_ c: LlamaConfiguration, notes: inout [String: String]) -> MetadataValue
    {
        switch c.rope.scaling {
        case .linear(let f):
            return .object(["rope_type": .string("linear"), "factor": .float64(shortest(f))])
        case .llama3, .none: break
        }
        guard let divisors = c.rope.frequencyDivisors else { return .null }
        let name = LlamaConfiguration.ggufRopeFrequencies
        guard
            let p = Llama3RopeRecovery.recover(
                divisors: divisors, theta: c.rope.theta, dimension: c.headDimension)
        else {
            notes[name] =
                "dropped, and NOT carried over: these frequency divisors are no Llama 3 rope_scaling; "
                + "the output runs with unscaled RoPE"
            return .null
        }
        notes[name] =
            "dropped: carried over as rope_scaling llama3 (factor \(p.factor), low_freq_factor \(p.low), "
            + "high_freq_factor \(p.high), original_max_position_embeddings \(p.originalContext))"
        return .object([
            "rope_type": .string("llama3"), "factor": .float64(p.factor),
            "low_freq_factor": .float64(p.low), "high_freq_factor": .float64(p.high),
            "original_max_position_embeddings": .int64(Int64(p.originalContext)),
        ])
    }

    /// A JSON file's text as transformers writes it (indent 2, keys sorted).
    static func text(_ m: Metadata) -> String {
        MetadataValue.object(m).jsonString(pretty: true, sortKeys: true, indentWidth: 2) + "\n"
    }
}
