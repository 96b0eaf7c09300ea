import Formats

/// Transformer building blocks: normalization, rotary embedding, attention.
extension Tensor {
    /// RMSNorm over the last axis: `x * rsqrt(mean(x²) + eps) * weight`, weight [D].
    public func rmsNorm(weight: Tensor, eps: Float) throws(ComputeError) -> Tensor {
        try checkFloat("rms_norm")
        guard rank >= 1, weight.shape == [shape[rank - 1]] else {
            throw ComputeError(.shape("weight \(weight.shape) for input \(shape)"), op: "rms_norm")
        }
        let d = try Self.promoteFloat(dtype, weight.dtype, op: "rms_norm")
        return Tensor(Node(.rmsNorm(eps: eps), [node, weight.node], shape: shape, dtype: d))
    }

    /// LayerNorm over the last axis (biased variance): weight and bias [D].
    public func layerNorm(weight: Tensor, bias: Tensor, eps: Float) throws(ComputeError) -> Tensor {
        try checkFloat("layer_norm")
        guard rank >= 1, weight.shape == [shape[rank - 1]], bias.shape == weight.shape else {
            throw ComputeError(
                .shape("weight \(weight.shape), bias \(bias.shape) for input \(shape)"),
                op: "layer_norm")
        }
        var d = try Self.promoteFloat(dtype, weight.dtype, op: "layer_norm")
        d = try Self.promoteFloat(d, bias.dtype, op: "layer_norm")
        return Tensor(
            Node(.layerNorm(eps: eps), [node, weight.node, bias.node], shape: shape, dtype: d))
    }

    /// Rotary embedding of [..., T, D] (rows are positions `offset ..< offset + T`):
    /// pair (i, partner) rotated by `position * base^(-2i/dims)` for the first `dims` dims.
    public func rope(base: Float = 10000, layout: RopeLayout, offset: Int = 0, dims: Int? = nil)
        throws(ComputeError) -> Tensor
    {
        try checkFloat("rope")
        guard rank >= 2 else {
            throw ComputeError(.shape("rope needs [..., T, D], got \(shape)"), op: "rope")
        }
        let d = dims ?? shape[rank - 1]
        guard d > 0, d % 2 == 0, d <= shape[rank - 1], offset >= 0 else {
            throw ComputeError(
                .shape("rotated dims \(d) for head dim \(shape[rank - 1])"), op: "rope")
        }
        let spec = RopeSpec(base: base, layout: layout, offset: offset, dims: d)
        return Tensor(Node(.rope(spec), [node], shape: shape, dtype: dtype))
    }

    /// Scaled dot-product attention: q [B, Hq, T, D], k and v [B, Hkv, S, D], Hq a multiple
    /// of Hkv (grouped-query: query head h reads kv head h / (Hq/Hkv)). `scale` defaults to
    /// 1/√D; `causal` masks keys after each query (queries are the last T of S positions).
    public static func attention(
        q: Tensor, k: Tensor, v: Tensor, scale: Float? = nil, causal: Bool
    ) throws(ComputeError) -> Tensor {
        let op = "attention"
        guard q.rank == 4, k.rank == 4, v.rank == 4, k.shape == v.shape else {
            throw ComputeError(.shape("q \(q.shape), k \(k.shape), v \(v.shape)"), op: op)
        }
        let (b, hq, t, d) = (q.shape[0], q.shape[1], q.shape[2], q.shape[3])
        let (hkv, s) = (k.shape[1], k.shape[2])
        guard k.shape[0] == b, k.shape[3] == d, hkv > 0, hq % hkv == 0 else {
            throw ComputeError(.shape("q \(q.shape) does not fit k/v \(k.shape)"), op: op)
        }
        guard !causal || t <= s else {
            throw ComputeError(.shape("causal attention with \(t) queries over \(s) keys"), op: op)
        }
        var dt = try promoteFloat(q.dtype, k.dtype, op: op)
        dt = try promoteFloat(dt, v.dtype, op: op)
        let spec = AttentionSpec(scale: scale ?? 1 / Float(d).squareRoot(), causal: causal)
        return Tensor(
            Node(.attention(spec), [q.node, k.node, v.node], shape: [b, hq, t, d], dtype: dt))
    }
}
