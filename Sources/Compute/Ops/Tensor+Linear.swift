import Formats

/// Matrix products: float matmul with batch broadcasting, and packed quantized weights.
extension Tensor {
    /// `self @ other` for operands of rank ≥ 2: [..., M, K] @ [..., K, N] → [..., M, N],
    /// batch dims broadcast. Transposed operands (`swapAxes(-1, -2)`) are passed to BLAS as
    /// transposes, not copied. A 1-D `other` is treated as a column vector and squeezed.
    public func matmul(_ other: Tensor) throws(ComputeError) -> Tensor {
        if other.rank == 1 {
            let r = try matmul(try other.reshape([other.count, 1]))
            return try r.reshape(Array(r.shape.dropLast()))
        }
        guard rank >= 2, other.rank >= 2 else {
            throw ComputeError(
                .shape("operands need rank ≥ 2: \(shape) @ \(other.shape)"), op: "matmul")
        }
        let d = try Self.promoteFloat(dtype, other.dtype, op: "matmul")
        let m = shape[rank - 2], k = shape[rank - 1]
        let k2 = other.shape[other.rank - 2], n = other.shape[other.rank - 1]
        guard k == k2 else {
            throw ComputeError(.shape("inner dims differ: \(shape) @ \(other.shape)"), op: "matmul")
        }
        guard let batch = Shape.broadcast(Array(shape.dropLast(2)), Array(other.shape.dropLast(2)))
        else {
            throw ComputeError(
                .shape("batch dims do not broadcast: \(shape) @ \(other.shape)"), op: "matmul")
        }
        return Tensor(Node(.matmul, [node, other.node], shape: batch + [m, n], dtype: d))
    }

    static func promoteFloat(_ a: DType, _ b: DType, op: String) throws(ComputeError) -> DType {
        guard a != .i32, b != .i32 else {
            throw ComputeError(.dtype("\(op) takes float operands"), op: op)
        }
        return a == b ? a : .f32
    }

    /// `self @ weight.T` for a packed weight [N, K] that stays packed: rows are dequantized
    /// tile by tile inside the kernel, never as a whole matrix. Input [..., K] → [..., N].
    public func quantizedMatmul(_ weight: QuantizedWeight) throws(ComputeError) -> Tensor {
        try checkFloat("quantized_matmul")
        guard rank >= 1, shape[rank - 1] == weight.columns else {
            throw ComputeError(
                .shape("input \(shape) does not end in \(weight.columns) columns"),
                op: "quantized_matmul")
        }
        let s = Array(shape.dropLast()) + [weight.rows]
        return Tensor(Node(.quantizedMatmul(weight), [node], shape: s, dtype: dtype))
    }

    /// Embedding lookup in a packed table [vocab, dim] (GGUF `token_embd` is often
    /// quantized): only the rows asked for are decoded. `ids` I32 of any shape → [..., dim];
    /// ids out of range make `eval` throw.
    public static func embedding(_ ids: Tensor, table: QuantizedWeight) throws(ComputeError)
        -> Tensor
    {
        guard ids.dtype == .i32 else {
            throw ComputeError(
                .dtype("ids must be I32, got \(ids.dtype.rawValue)"), op: "quantized_embedding")
        }
        return Tensor(
            Node(
                .quantizedEmbedding(table), [ids.node], shape: ids.shape + [table.columns],
                dtype: .f32))
    }
}
