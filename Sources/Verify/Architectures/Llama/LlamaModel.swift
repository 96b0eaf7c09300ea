// port of https://github.com/huggingface/transformers/blob/v4.57.1/src/transformers/models/llama/modeling_llama.py
// (also mistral/, qwen2/: the same forward pass, Qwen2 with q/k/v biases)
import Compute
import Formats

/// A LLaMA-family decoder (Llama 1-3, SmolLM2, Mistral, Qwen2) on ckpt's engine.
///
/// It computes what `LlamaForCausalLM(...)(ids).logits` computes, in float32 whatever the
/// weights' dtype, with packed weights decoded inside the matmul kernels: token embedding,
/// N × (RMSNorm, causal grouped-query attention with half-split RoPE, residual, RMSNorm,
/// SwiGLU MLP, residual), final RMSNorm, `lm_head` (or the tied embedding).
///
/// ```swift
/// let model = try LlamaModel(source: try Checkpoint.open(path), file: path)
/// let logits = try model.forward(tokens: [1, 2, 3]).floats()   // 3 × vocab
/// ```
public struct LlamaModel: LanguageModel {
    public let configuration: LlamaConfiguration
    public let weights: WeightStore

    public var vocabularySize: Int { configuration.vocabularySize }
    public var outputWidth: Int { configuration.vocabularySize }

    /// A model over checked weights (`WeightStore` built from `Self.weightSpecs`).
    public init(configuration: LlamaConfiguration, weights: WeightStore) {
        self.configuration = configuration
        self.weights = weights
    }

    /// Reads the configuration (config.json, or the GGUF's hparams) and resolves every weight
    /// of `source`, checking names and shapes.
    /// - Throws: `FormatError` naming `file` and the key or tensor at fault.
    public init(source: any TensorSource, file: String) throws(FormatError) {
        if source.format == .gguf {
            let config = try LlamaConfiguration(gguf: source, file: file)
            let specs = Self.weightSpecs(config, naming: .gguf)
            weights = try WeightStore(
                source: source, file: file, specs: specs,
                ignoring: { $0 == LlamaConfiguration.ggufRopeFrequencies })
            configuration = config
        } else {
            let config = try LlamaConfiguration(
                configuration: source.metadata, file: file + "/config.json")
            weights = try WeightStore(
                source: source, file: file, specs: Self.weightSpecs(config, naming: .huggingFace),
                quantization: config.quantization,
                ignoring: { $0.hasSuffix(".rotary_emb.inv_freq") })
            configuration = config
        }
    }

    /// How a source names the tensors.
    public enum Naming: Sendable {
        /// transformers' state-dict names (hf and mlx directories).
        case huggingFace
        /// llama.cpp's names (formats-gguf.md §4.2), q/k rows interleaved for arch llama.
        case gguf
    }

    /// Every weight `configuration` implies, with its shape, by model (Hugging Face) name.
    public static func weightSpecs(_ c: LlamaConfiguration, naming: Naming) -> [WeightSpec] {
        let (h, q, kv, ff, v) = (
            c.hiddenSize, c.queryWidth, c.keyValueWidth, c.intermediateSize, c.vocabularySize
        )
        // llama.cpp keeps Qwen2's half-split layout (LLAMA_ROPE_TYPE_NEOX); llama is permuted.
        let permuted = naming == .gguf && c.family != .qwen2
        func spec(_ name: String, _ shape: [Int], heads: Int? = nil, optional: Bool = false)
            -> WeightSpec
        {
            let stored = naming == .gguf ? LlamaConfiguration.ggufName(name) : name
            return WeightSpec(
                name, stored: stored, shape: shape, interleavedHeads: permuted ? heads : nil,
                optional: optional)
        }
        var specs = [spec("model.embed_tokens.weight", [v, h])]
        for i in 0..<c.layerCount {
            let p = "model.layers.\(i)."
            specs.append(spec(p + "input_layernorm.weight", [h]))
            specs.append(spec(p + "self_attn.q_proj.weight", [q, h], heads: c.headCount))
            specs.append(spec(p + "self_attn.k_proj.weight", [kv, h], heads: c.kvHeadCount))
            specs.append(spec(p + "self_attn.v_proj.weight", [kv, h]))
            specs.append(spec(p + "self_attn.o_proj.weight", [h, q]))
            if c.attentionBias {
                specs.append(spec(p + "self_attn.q_proj.bias", [q], heads: c.headCount))
                specs.append(spec(p + "self_attn.k_proj.bias", [kv], heads: c.kvHeadCount))
                specs.append(spec(p + "self_attn.v_proj.bias", [kv]))
            }
            if c.outputBias { specs.append(spec(p + "self_attn.o_proj.bias", [h])) }
            specs.append(spec(p + "post_attention_layernorm.weight", [h]))
            specs.append(spec(p + "mlp.gate_proj.weight", [ff, h]))
            specs.append(spec(p + "mlp.up_proj.weight", [ff, h]))
            specs.append(spec(p + "mlp.down_proj.weight", [h, ff]))
        }
        specs.append(spec("model.norm.weight", [h]))
        // A tied model may still store lm_head (some exports do); it is then used as stored.
        specs.append(spec("lm_head.weight", [v, h], optional: c.tieWordEmbeddings))
        return specs
    }

    /// Logits [T, vocab] (float32) for `tokens`, as a lazy graph.
    /// - Throws: `ComputeError` for an empty sequence or an id outside the vocabulary.
    public func forward(tokens: [Int32]) throws(ComputeError) -> Tensor {
        let c = configuration
        let t = tokens.count
        guard t > 0 else { throw ComputeError(.shape("no tokens"), op: "forward") }
        if let bad = tokens.first(where: { $0 < 0 || Int($0) >= c.vocabularySize }) {
            throw ComputeError(
                .index("token id \(bad) is outside the vocabulary 0..<\(c.vocabularySize)"),
                op: "embedding")
        }
        let w = WeightLookup(store: weights)
        let ids = try Tensor(int32s: tokens, shape: [t])
        let embedding = try w["model.embed_tokens.weight"]
        var x = try embedding.embed(ids)
        let (cosTable, sinTable) = c.rope.tables(positions: t, dimension: c.headDimension)
        let rope = try Rope(
            cos: Tensor(cosTable, shape: [t, c.headDimension]),
            sin: Tensor(sinTable, shape: [t, c.headDimension]), dimension: c.headDimension)
        for i in 0..<c.layerCount {
            let p = "model.layers.\(i)."
            let h = try x.rmsNorm(
                weight: try w[p + "input_layernorm.weight"].tensor(), eps: c.rmsNormEpsilon)
            x = try x + (try attention(h, prefix: p + "self_attn.", w, rope: rope, tokens: t))
            let g = try x.rmsNorm(
                weight: try w[p + "post_attention_layernorm.weight"].tensor(), eps: c.rmsNormEpsilon
            )
            let gate = try w[p + "mlp.gate_proj.weight"].linear(g).silu()
            let up = try w[p + "mlp.up_proj.weight"].linear(g)
            x = try x + (try w[p + "mlp.down_proj.weight"].linear(try gate * up))
        }
        x = try x.rmsNorm(weight: try w["model.norm.weight"].tensor(), eps: c.rmsNormEpsilon)
        let head = weights.contains("lm_head.weight") ? try w["lm_head.weight"] : embedding
        return try head.linear(x)
    }

    /// Self-attention of one layer: [T, hidden] → [T, hidden].
    func attention(_ h: Tensor, prefix p: String, _ w: WeightLookup, rope: Rope, tokens t: Int)
        throws(ComputeError) -> Tensor
    {
        let c = configuration
        func project(_ name: String, heads: Int) throws(ComputeError) -> Tensor {
            var y = try w[p + name + ".weight"].linear(h)
            if weights.contains(p + name + ".bias") {
                y = try y + (try w[p + name + ".bias"].tensor())
            }
            // [T, heads·D] → [1, heads, T, D]
            return try y.reshape([t, heads, c.headDimension]).transposed([1, 0, 2])
                .reshape([1, heads, t, c.headDimension])
        }
        let q = try rope.apply(try project("q_proj", heads: c.headCount))
        let k = try rope.apply(try project("k_proj", heads: c.kvHeadCount))
        let v = try project("v_proj", heads: c.kvHeadCount)
        let a = try Tensor.attention(q: q, k: k, v: v, causal: true)
            .reshape([c.headCount, t, c.headDimension]).transposed([1, 0, 2])
            .reshape([t, c.queryWidth])
        var o = try w[p + "o_proj.weight"].linear(a)
        if weights.contains(p + "o_proj.bias") { o = try o + (try w[p + "o_proj.bias"].tensor()) }
        return o
    }
}

/// transformers' `apply_rotary_pos_emb`: `x·cos + rotate_half(x)·sin`, with
/// `rotate_half(x) = cat(-x[..., D/2:], x[..., :D/2])`. Built from elementwise ops (rather
/// than the engine's `rope`) so that any frequency scaling is only a different table.
struct Rope {
    let cos: Tensor
    let sin: Tensor
    let dimension: Int

    func apply(_ x: Tensor) throws(ComputeError) -> Tensor {
        let half = dimension / 2
        let x1 = try x.slice(axis: -1, start: 0, end: half)
        let x2 = try x.slice(axis: -1, start: half, end: dimension)
        let rotated = try Tensor.concat([try -x2, x1], axis: -1)
        return try (try x * cos) + (try rotated * sin)
    }
}

/// Weight lookup that turns a missing name (our bug: specs and forward disagree) into a
/// `ComputeError`, so the forward pass throws a single error type.
struct WeightLookup {
    let store: WeightStore

    subscript(_ name: String) -> Weight {
        get throws(ComputeError) {
            guard let w = store.weights[name] else {
                throw ComputeError(.unsupported("no weight '\(name)'"), op: "weights")
            }
            return w
        }
    }
}
