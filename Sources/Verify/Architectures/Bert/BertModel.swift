// port of https://github.com/huggingface/transformers/blob/v4.57.1/src/transformers/models/bert/modeling_bert.py
import Compute
import Formats

/// A BERT encoder (`BertModel`, e.g. all-MiniLM-L6-v2) on ckpt's engine: its output is the
/// last hidden state [T, hidden], as `BertModel(ids).last_hidden_state` with token type 0
/// and no padding mask.
public struct BertModel: LanguageModel {
    public let configuration: BertConfiguration
    public let weights: WeightStore
    /// `bert.` when the checkpoint was saved from a task model (`BertForMaskedLM`...).
    let prefix: String

    public var vocabularySize: Int { configuration.vocabularySize }
    public var outputWidth: Int { configuration.hiddenSize }
    /// The last hidden state, not logits.
    public var outputsLogits: Bool { false }
    /// The learned position embeddings bound the sequence.
    public var maxTokens: Int? { configuration.maxPositions }

    /// Reads config.json and resolves every encoder weight of `source`; the pooler and task
    /// heads (`pooler.*`, `cls.*`) are not part of the last hidden state and are ignored.
    /// - Throws: `FormatError` naming `file` and the key or tensor at fault.
    public init(source: any TensorSource, file: String) throws(FormatError) {
        let c = try BertConfiguration(configuration: source.metadata, file: file + "/config.json")
        let p = source.tensor(named: "bert.embeddings.word_embeddings.weight") != nil ? "bert." : ""
        let (h, ff) = (c.hiddenSize, c.intermediateSize)
        var specs = [
            WeightSpec(p + "embeddings.word_embeddings.weight", shape: [c.vocabularySize, h]),
            WeightSpec(p + "embeddings.position_embeddings.weight", shape: [c.maxPositions, h]),
            WeightSpec(
                p + "embeddings.token_type_embeddings.weight", shape: [c.typeVocabularySize, h]),
            WeightSpec(p + "embeddings.LayerNorm.weight", shape: [h]),
            WeightSpec(p + "embeddings.LayerNorm.bias", shape: [h]),
        ]
        for i in 0..<c.layerCount {
            let l = p + "encoder.layer.\(i)."
            for name in [
                "attention.self.query", "attention.self.key", "attention.self.value",
                "attention.output.dense",
            ] {
                specs.append(WeightSpec(l + name + ".weight", shape: [h, h]))
                specs.append(WeightSpec(l + name + ".bias", shape: [h]))
            }
            specs.append(WeightSpec(l + "intermediate.dense.weight", shape: [ff, h]))
            specs.append(WeightSpec(l + "intermediate.dense.bias", shape: [ff]))
            specs.append(WeightSpec(l + "output.dense.weight", shape: [h, ff]))
            specs.append(WeightSpec(l + "output.dense.bias", shape: [h]))
            for norm in ["attention.output.LayerNorm", "output.LayerNorm"] {
                specs.append(WeightSpec(l + norm + ".weight", shape: [h]))
                specs.append(WeightSpec(l + norm + ".bias", shape: [h]))
            }
        }
        weights = try WeightStore(
            source: source, file: file, specs: specs,
            ignoring: { name in
                name == p + "embeddings.position_ids" || name.hasPrefix(p + "pooler.")
                    || name.hasPrefix("cls.")
            })
        configuration = c
        prefix = p
    }

    /// The last hidden state [T, hidden] (float32) for `tokens`, as a lazy graph.
    /// - Throws: `ComputeError` for an empty or too long sequence or an id out of range.
    public func forward(tokens: [Int32]) throws(ComputeError) -> Tensor {
        let c = configuration
        let t = tokens.count
        guard t > 0, t <= c.maxPositions else {
            throw ComputeError(.shape("\(t) tokens (1...\(c.maxPositions))"), op: "forward")
        }
        if let bad = tokens.first(where: { $0 < 0 || Int($0) >= c.vocabularySize }) {
            throw ComputeError(
                .index("token id \(bad) is outside the vocabulary 0..<\(c.vocabularySize)"),
                op: "embedding")
        }
        let w = WeightLookup(store: weights)
        let p = prefix
        func dense(_ x: Tensor, _ name: String) throws(ComputeError) -> Tensor {
            try (try w[name + ".weight"].linear(x)) + (try w[name + ".bias"].tensor())
        }
        func norm(_ x: Tensor, _ name: String) throws(ComputeError) -> Tensor {
            try x.layerNorm(
                weight: try w[name + ".weight"].tensor(), bias: try w[name + ".bias"].tensor(),
                eps: c.layerNormEpsilon)
        }
        let ids = try Tensor(int32s: tokens, shape: [t])
        let positions = try Tensor(int32s: (0..<Int32(t)).map { $0 }, shape: [t])
        let types = try Tensor(int32s: [Int32](repeating: 0, count: t), shape: [t])
        var x = try w[p + "embeddings.word_embeddings.weight"].embed(ids)
        x = try x + (try w[p + "embeddings.token_type_embeddings.weight"].embed(types))
        x = try x + (try w[p + "embeddings.position_embeddings.weight"].embed(positions))
        x = try norm(x, p + "embeddings.LayerNorm")
        let (heads, d) = (c.headCount, c.headDimension)
        func split(_ y: Tensor) throws(ComputeError) -> Tensor {
            try y.reshape([t, heads, d]).transposed([1, 0, 2]).reshape([1, heads, t, d])
        }
        for i in 0..<c.layerCount {
            let l = p + "encoder.layer.\(i)."
            let q = try split(try dense(x, l + "attention.self.query"))
            let k = try split(try dense(x, l + "attention.self.key"))
            let v = try split(try dense(x, l + "attention.self.value"))
            let a = try Tensor.attention(q: q, k: k, v: v, causal: false)
                .reshape([heads, t, d]).transposed([1, 0, 2]).reshape([t, c.hiddenSize])
            x = try norm(
                try dense(a, l + "attention.output.dense") + x, l + "attention.output.LayerNorm")
            let inner = try dense(x, l + "intermediate.dense").gelu()
            x = try norm(try dense(inner, l + "output.dense") + x, l + "output.LayerNorm")
        }
        return x
    }
}
