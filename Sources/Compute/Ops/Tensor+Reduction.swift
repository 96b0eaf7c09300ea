import Formats

/// Reductions along axes, argmax and softmax.
extension Tensor {
    /// Reduces over `axes` (nil: all axes), keeping them as size 1 when `keepDims`.
    public func reduce(_ op: ReduceOp, axes: [Int]? = nil, keepDims: Bool = false)
        throws(ComputeError) -> Tensor
    {
        try checkFloat(op.rawValue)
        var norm: [Int] = []
        for a in axes ?? Array(0..<rank) {
            norm.append(try Shape.axis(a, rank: rank, op: op.rawValue))
        }
        norm = Array(Set(norm)).sorted()
        guard norm.count == (axes ?? Array(0..<rank)).count else {
            throw ComputeError(.index("repeated axis in \(axes ?? [])"), op: op.rawValue)
        }
        if norm.isEmpty { return self }
        if op != .sum, norm.contains(where: { shape[$0] == 0 }) {
            throw ComputeError(.shape("\(op.rawValue) of an empty axis"), op: op.rawValue)
        }
        var out: [Int] = []
        for i in 0..<rank {
            if norm.contains(i) {
                if keepDims { out.append(1) }
            } else {
                out.append(shape[i])
            }
        }
        return Tensor(Node(.reduce(op, axes: norm), [node], shape: out, dtype: dtype))
    }

    /// Sum over `axes` (nil: all).
    public func sum(axes: [Int]? = nil, keepDims: Bool = false) throws(ComputeError) -> Tensor {
        try reduce(.sum, axes: axes, keepDims: keepDims)
    }
    /// Mean over `axes` (nil: all).
    public func mean(axes: [Int]? = nil, keepDims: Bool = false) throws(ComputeError) -> Tensor {
        try reduce(.mean, axes: axes, keepDims: keepDims)
    }
    /// Maximum over `axes` (nil: all); NaN propagates.
    public func max(axes: [Int]? = nil, keepDims: Bool = false) throws(ComputeError) -> Tensor {
        try reduce(.max, axes: axes, keepDims: keepDims)
    }
    /// `log(sum(exp(x)))`, computed without overflow.
    public func logsumexp(axes: [Int]? = nil, keepDims: Bool = false) throws(ComputeError) -> Tensor
    {
        try reduce(.logsumexp, axes: axes, keepDims: keepDims)
    }

    /// Index (I32) of the first maximum along `axis`, which is removed.
    public func argmax(axis: Int) throws(ComputeError) -> Tensor {
        try checkFloat("argmax")
        let a = try Shape.axis(axis, rank: rank, op: "argmax")
        guard shape[a] > 0 else {
            throw ComputeError(.shape("argmax of an empty axis"), op: "argmax")
        }
        var s = shape
        s.remove(at: a)
        return Tensor(Node(.argmax(axis: a), [node], shape: s, dtype: .i32))
    }

    /// `exp(x - max) / sum(exp(x - max))` along `axis`.
    public func softmax(axis: Int = -1) throws(ComputeError) -> Tensor {
        try checkFloat("softmax")
        let a = try Shape.axis(axis, rank: rank, op: "softmax")
        return Tensor(Node(.softmax(axis: a), [node], shape: shape, dtype: dtype))
    }
}
