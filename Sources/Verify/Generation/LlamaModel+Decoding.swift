import Compute
import Formats

/// The decoder run over a key/value cache: positions `cache.length ..< cache.length + T`.
///
/// The same computation as `forward(tokens:)` (kept untouched), except that attention reads
/// the cached keys and values of the earlier positions, RoPE rotates by the absolute
/// position, and only the last row goes through the final norm and the LM head.
extension LlamaModel {
    /// The lazy graph of one decoding call: last-row logits [1, vocab] and each layer's new
    /// keys (after RoPE) and values, [1, kvHeads, T, D], to append to the cache once run.
    struct DecodingGraph {
        let logits: Tensor
        let keys: [Tensor]
        let values: [Tensor]
    }

    /// Builds the graph of `tokens` at the cache's next positions, with `lookup` naming the
    /// weights (the model's own, or row readers for matrix-vector steps).
    func decodingGraph(
        tokens: [Int32], cache: KeyValueCache, rope: Rope, weights lookup: [String: Weight]
    ) throws(ComputeError) -> DecodingGraph {
        let c = configuration
        let t = tokens.count
        guard t > 0 else { throw ComputeError(.shape("no tokens"), op: "decode") }
        if let bad = tokens.first(where: { $0 < 0 || Int($0) >= c.vocabularySize }) {
            throw ComputeError(
                .index("token id \(bad) is outside the vocabulary 0..<\(c.vocabularySize)"),
                op: "embedding")
        }
        func w(_ name: String) throws(ComputeError) -> Weight {
            guard let weight = lookup[name] else {
                throw ComputeError(.unsupported("no weight '\(name)'"), op: "weights")
            }
            return weight
        }
        func has(_ name: String) -> Bool { lookup[name] != nil }
        let embedding = try w("model.embed_tokens.weight")
        var x = try embedding.embed(try Tensor(int32s: tokens, shape: [t]))
        var keys: [Tensor] = [], values: [Tensor] = []
        for i in 0..<c.layerCount {
            let p = "model.layers.\(i)."
            let h = try x.rmsNorm(
                weight: try w(p + "input_layernorm.weight").tensor(), eps: c.rmsNormEpsilon)
            func project(_ name: String, heads: Int) throws(ComputeError) -> Tensor {
                let a = p + "self_attn." + name
                var y = try w(a + ".weight").linear(h)
                if has(a + ".bias") { y = try y + (try w(a + ".bias").tensor()) }
                return try y.reshape([t, heads, c.headDimension]).transposed([1, 0, 2])
                    .reshape([1, heads, t, c.headDimension])
            }
            let q = try rope.apply(try project("q_proj", heads: c.headCount))
            let k = try rope.apply(try project("k_proj", heads: c.kvHeadCount))
            let v = try project("v_proj", heads: c.kvHeadCount)
            keys.append(k)
            values.append(v)
            var allK = k, allV = v
            if let past = try cache.past(layer: i) {
                allK = try Tensor.concat([past.keys, k], axis: 2)
                allV = try Tensor.concat([past.values, v], axis: 2)
            }
            let a = try Tensor.attention(q: q, k: allK, v: allV, causal: true)
                .reshape([c.headCount, t, c.headDimension]).transposed([1, 0, 2])
                .reshape([t, c.queryWidth])
            var o = try w(p + "self_attn.o_proj.weight").linear(a)
            if has(p + "self_attn.o_proj.bias") {
                o = try o + (try w(p + "self_attn.o_proj.bias").tensor())
            }
            x = try x + o
            let g = try x.rmsNorm(
                weight: try w(p + "post_attention_layernorm.weight").tensor(),
                eps: c.rmsNormEpsilon)
            let gate = try w(p + "mlp.gate_proj.weight").linear(g).silu()
            let up = try w(p + "mlp.up_proj.weight").linear(g)
            x = try x + (try w(p + "mlp.down_proj.weight").linear(try gate * up))
        }
        if t > 1 { x = try x.slice(axis: 0, start: t - 1, end: t) }
        x = try x.rmsNorm(weight: try w("model.norm.weight").tensor(), eps: c.rmsNormEpsilon)
        let head = has("lm_head.weight") ? try w("lm_head.weight") : embedding
        return DecodingGraph(logits: try head.linear(x), keys: keys, values: values)
    }

    /// The weights with dense 2-D matrices of `dtypes` read in place by the row kernels
    /// (`Tensor.rowReader`). A decode step reads each weight once, so no dense matrix
    /// should be widened or copied then; a prefill keeps F32 matrices for sgemm straight
    /// over the mapping, while F16/BF16 ones are decoded tile by tile in parallel (and an
    /// embedding table only at the rows looked up) rather than widened as a whole.
    /// Packed weights and vectors are unchanged.
    func rowReaderWeights(for dtypes: Set<DType>) -> [String: Weight] {
        weights.weights.mapValues { weight in
            if case .dense(let t) = weight, dtypes.contains(t.dtype), let rows = t.rowReader {
                return .quantized(rows)
            }
            return weight
        }
    }
}
