import Foundation
import Formats

/// What `mlx_lm.convert` (mlx-lm 0.32) does to a Hugging Face model directory besides
/// quantizing, so that `ckpt convert --to mlx` writes the same tensors and config:
/// `Model.sanitize` (llama.py, qwen2.py; mistral maps to llama), the dtype it picks when
/// no `--dtype` is given (convert.py), the module order of `tree_flatten(model.parameters())`
/// (which decides shards and the order of per-layer quantization entries), and
/// `load_config` + `save_config` (utils.py).
public enum MLXLMConventions {
    /// `model_type`s whose mlx-lm model classes this file mirrors (`MODEL_REMAPPING` maps
    /// mistral to llama). Their `ModelArgs.tie_word_embeddings` defaults to true.
    public static let modelTypes: Set<String> = ["llama", "mistral", "qwen2"]

    /// Whether mlx-lm ties the output projection to the embeddings: the config's
    /// `tie_word_embeddings`, else mlx-lm's default for the model type (true for
    /// llama/mistral/qwen2, whose `ModelArgs` default it so); false for other types.
    public static func tiesEmbeddings(_ config: Metadata) -> Bool {
        if let b = config["tie_word_embeddings"]?.boolValue { return b }
        return config["model_type"]?.stringValue.map(modelTypes.contains) ?? false
    }

    /// `Model.sanitize`: drops `self_attn.rotary_emb.inv_freq` buffers, and `lm_head.weight`
    /// when the embeddings are tied.
    public static func sanitize(_ tensors: [TensorInfo], config: Metadata) -> [TensorInfo] {
        let tied = tiesEmbeddings(config)
        return tensors.filter { t in
            !t.name.contains("self_attn.rotary_emb.inv_freq")
                && !(tied && t.name == "lm_head.weight")
        }
    }

    /// The dtype `mlx_lm.convert` casts floating parameters to when no `--dtype` is given:
    /// `torch_dtype`, else `text_config.dtype`, when one of float16/bfloat16/float32. A
    /// transformers-5 config's top-level `dtype` is not read, so such models keep their
    /// stored dtypes.
    public static func defaultDType(_ config: Metadata) -> DType? {
        var name = config["torch_dtype"]?.stringValue
        if config["torch_dtype"] == nil || config["torch_dtype"] == .null {
            name = config["text_config"]?["dtype"]?.stringValue
        }
        switch name {
        case "float16": return .f16
        case "bfloat16": return .bf16
        case "float32": return .f32
        default: return nil
        }
    }

    /// Tensors in the order of `tree_flatten(model.parameters())` for the llama-family
    /// classes: `model.embed_tokens`, each layer in index order (`self_attn` q/k/v/o,
    /// `mlp` gate/down/up, `input_layernorm`, `post_attention_layernorm`), `model.norm`,
    /// `lm_head`; within a module `weight` before `bias`. Names outside this scheme keep
    /// their relative order, after the known ones. The sort is stable.
    public static func moduleOrder(_ tensors: [TensorInfo]) -> [TensorInfo] {
        let keyed = tensors.enumerated().map { (key: orderKey($1.name), index: $0, tensor: $1) }
        return keyed.sorted { a, b in
            a.key == b.key ? a.index < b.index : a.key.lexicographicallyPrecedes(b.key)
        }.map(\.tensor)
    }

    static func orderKey(_ name: String) -> [Int] {
        let parts = name.split(separator: ".").map(String.init)
        let leaf: Int
        switch parts.last {
        case "weight": leaf = 0
        case "scales": leaf = 1
        case "biases": leaf = 2
        case "bias": leaf = 3
        default: leaf = 4
        }
        if parts.count >= 3, parts[0] == "model", parts[1] == "embed_tokens" {
            return [0, 0, 0, leaf]
        }
        if parts.count >= 5, parts[0] == "model", parts[1] == "layers", let i = Int(parts[2]) {
            let inner = parts[3...].dropLast().joined(separator: ".")
            let within =
                [
                    "self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj",
                    "mlp.gate_proj", "mlp.down_proj", "mlp.up_proj", "input_layernorm",
                    "post_attention_layernorm",
                ].firstIndex(of: inner) ?? 9
            return [1, i, within, leaf]
        }
        if parts.count >= 3, parts[0] == "model", parts[1] == "norm" { return [2, 0, 0, leaf] }
        if parts.count >= 2, parts[0] == "lm_head" { return [3, 0, 0, leaf] }
        return [4, 0, 0, 0]
    }

    /// `config.json` as `mlx_lm.convert` writes it: `load_config` (the
    /// `generation_config.json` `eos_token_id`, when truthy, replaces the config's), the
    /// `quantization` block and its copy `quantization_config` when quantized, then
    /// `save_config` (`_name_or_path` and `vision_config` removed). Besides, for a
    /// transformers-5 config (`rope_parameters` and no `rope_theta`) the RoPE settings are
    /// also written as top-level `rope_theta` / `rope_scaling` (cli.md), which mlx-lm 0.32
    /// reads instead of `rope_parameters`.
    public static func config(_ source: Metadata, directory: String?, quantization: Metadata?)
        -> Metadata
    {
        var c = source
        if let directory, let eos = generationEOS(directory) { c["eos_token_id"] = eos }
        c.removeValue(forKey: "_name_or_path")
        c.removeValue(forKey: "vision_config")
        if let quantization {
            c["quantization"] = .object(quantization)
            c["quantization_config"] = .object(quantization)
        }
        if c["rope_theta"] == nil, let rope = c["rope_parameters"]?.objectValue {
            if let theta = rope["rope_theta"] { c["rope_theta"] = theta }
            let type = rope["rope_type"]?.stringValue ?? rope["type"]?.stringValue ?? "default"
            if type != "default", c["rope_scaling"] == nil || c["rope_scaling"] == .null {
                var scaling = rope
                scaling.removeValue(forKey: "rope_theta")
                c["rope_scaling"] = .object(scaling)
            }
        }
        return c
    }

    /// `generation_config.json`'s `eos_token_id` when Python would find it truthy (a
    /// non-zero id or a non-empty list), as `load_config` copies it.
    static func generationEOS(_ directory: String) -> MetadataValue? {
        let path = directory + "/generation_config.json"
        guard let text = try? String(contentsOfFile: path, encoding: .utf8),
            let doc = try? JSON.parse(text, name: path), let eos = doc["eos_token_id"]
        else { return nil }
        switch eos {
        case .array(let a, _): return a.isEmpty ? nil : eos
        case .null, .bool(false): return nil
        default:
            if let i = eos.intValue, i == 0 { return nil }
            return eos
        }
    }

    /// The config of a directory converted out of MLX: the quantization entries removed.
    public static func dequantizedConfig(_ source: Metadata) -> Metadata {
        var c = source
        c.removeValue(forKey: "quantization")
        c.removeValue(forKey: "quantization_config")
        return c
    }

    /// `config.json` text as `save_config` writes it: top-level keys sorted (nested objects
    /// keep their order, as Python's `dict(sorted(config.items()))` leaves them), indent 4.
    public static func configText(_ config: Metadata) -> String {
        var sorted = Metadata()
        for k in config.keys.sorted() { sorted[k] = config[k] }
        return MetadataValue.object(sorted).jsonString(
            pretty: true, sortKeys: false, indentWidth: 4)
    }
}
