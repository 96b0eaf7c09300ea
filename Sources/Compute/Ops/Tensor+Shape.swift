import Formats

/// View and data-movement builders: reshape, transpose, slice, broadcast, concat, take.
extension Tensor {
    /// Same elements in a new shape (one dim may be -1); a view when the input is contiguous.
    public func reshape(_ newShape: [Int]) throws(ComputeError) -> Tensor {
        var s = newShape
        let inferred = s.indices.filter { s[$0] == -1 }
        guard inferred.count <= 1 else {
            throw ComputeError(.shape("more than one -1 in \(newShape)"), op: "reshape")
        }
        if let i = inferred.first {
            var rest = s
            rest[i] = 1
            guard let known = Shape.checkedCount(rest), known > 0, count % known == 0 else {
                throw ComputeError(
                    .shape("cannot infer -1 in \(newShape) from \(shape)"), op: "reshape")
            }
            s[i] = count / known
        }
        guard let n = Shape.checkedCount(s), n == count else {
            throw ComputeError(.shape("\(shape) (\(count) elements) to \(newShape)"), op: "reshape")
        }
        if s == shape { return self }
        return Tensor(Node(.reshape, [node], shape: s, dtype: dtype))
    }

    /// Permutes axes (`axes` nil reverses them, as numpy's `transpose()`); always a view.
    public func transposed(_ axes: [Int]? = nil) throws(ComputeError) -> Tensor {
        let perm = axes ?? Array((0..<rank).reversed())
        guard perm.count == rank, Set(perm) == Set(0..<rank) else {
            throw ComputeError(
                .index("\(perm) is not a permutation of \(rank) axes"), op: "transpose")
        }
        if perm == Array(0..<rank) { return self }
        return Tensor(Node(.permute(perm), [node], shape: perm.map { shape[$0] }, dtype: dtype))
    }

    /// Swaps two axes (a view): `swapAxes(-1, -2)` transposes the matrices of a batch.
    public func swapAxes(_ a: Int, _ b: Int) throws(ComputeError) -> Tensor {
        let x = try Shape.axis(a, rank: rank, op: "transpose")
        let y = try Shape.axis(b, rank: rank, op: "transpose")
        var perm = Array(0..<rank)
        perm.swapAt(x, y)
        return try transposed(perm)
    }

    /// `x[start:end:step]` along `axis` (a view); bounds are clamped as in numpy, step > 0.
    public func slice(axis: Int, start: Int, end: Int, step: Int = 1) throws(ComputeError) -> Tensor
    {
        let a = try Shape.axis(axis, rank: rank, op: "slice")
        guard step > 0 else {
            throw ComputeError(.index("step \(step) must be positive"), op: "slice")
        }
        let n = shape[a]
        func clamp(_ v: Int) -> Int { v < 0 ? Swift.max(0, v + n) : Swift.min(v, n) }
        let s = clamp(start), e = clamp(end)
        let len = e > s ? (e - s + step - 1) / step : 0
        var starts = [Int](repeating: 0, count: rank)
        var steps = [Int](repeating: 1, count: rank)
        starts[a] = s
        steps[a] = step
        var out = shape
        out[a] = len
        return Tensor(Node(.slice(start: starts, step: steps), [node], shape: out, dtype: dtype))
    }

    /// numpy `broadcast_to` (a view with zero strides).
    public func broadcast(to target: [Int]) throws(ComputeError) -> Tensor {
        guard let s = Shape.broadcast(shape, target), s == target else {
            throw ComputeError(.shape("\(shape) does not broadcast to \(target)"), op: "broadcast")
        }
        if target == shape { return self }
        return Tensor(Node(.broadcast, [node], shape: target, dtype: dtype))
    }

    /// Inserts a size-1 axis (a view).
    public func expandDims(_ axis: Int) throws(ComputeError) -> Tensor {
        let a = try Shape.axis(axis, rank: rank + 1, op: "expand_dims")
        var s = shape
        s.insert(1, at: a)
        return try reshape(s)
    }

    /// Joins tensors along `axis`; all other dims must agree; dtypes promote.
    public static func concat(_ parts: [Tensor], axis: Int) throws(ComputeError) -> Tensor {
        guard let first = parts.first else {
            throw ComputeError(.shape("nothing to concatenate"), op: "concat")
        }
        let a = try Shape.axis(axis, rank: first.rank, op: "concat")
        var d = first.dtype
        var total = 0
        for p in parts {
            guard p.rank == first.rank,
                p.shape.indices.allSatisfy({ $0 == a || p.shape[$0] == first.shape[$0] })
            else {
                throw ComputeError(
                    .shape("\(p.shape) does not match \(first.shape) off axis \(a)"), op: "concat")
            }
            if p.dtype != d {
                guard p.dtype != .i32, d != .i32 else {
                    throw ComputeError(.dtype("mixing I32 and float parts"), op: "concat")
                }
                d = .f32
            }
            total += p.shape[a]
        }
        var s = first.shape
        s[a] = total
        if parts.count == 1 { return first }
        return Tensor(Node(.concat(axis: a), parts.map(\.node), shape: s, dtype: d))
    }

    /// numpy `take(self, indices, axis)`: output shape `shape[..<axis] + indices.shape +
    /// shape[axis+1...]`. Indices out of range make `eval` throw; negative ones count from
    /// the end.
    public func take(_ indices: Tensor, axis: Int) throws(ComputeError) -> Tensor {
        let a = try Shape.axis(axis, rank: rank, op: "take")
        guard indices.dtype == .i32 else {
            throw ComputeError(
                .dtype("indices must be I32, got \(indices.dtype.rawValue)"), op: "take")
        }
        let s = Array(shape[..<a]) + indices.shape + Array(shape[(a + 1)...])
        return Tensor(Node(.take(axis: a), [node, indices.node], shape: s, dtype: dtype))
    }

    /// Embedding lookup: rows of this [vocab, dim] table for I32 `ids` of any shape.
    public func embedding(_ ids: Tensor) throws(ComputeError) -> Tensor {
        guard rank == 2 else {
            throw ComputeError(.shape("embedding table must be 2-D, got \(shape)"), op: "embedding")
        }
        return try take(ids, axis: 0)
    }
}
