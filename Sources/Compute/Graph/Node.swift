import Formats

/// Data of a constant node.
public enum Constant: Sendable {
    /// Host memory with 4-byte elements (F32 values, already rounded for F16/BF16; or I32),
    /// starting at element `offset`.
    case host(Storage, offset: Int)
    /// Little-endian row-major elements of the node's dtype in a slice of a mapped file
    /// (or any `ByteBuffer`); F32/I32 are read in place, F16/BF16 widened at eval.
    case bytes(ByteSlice)
}

/// One immutable vertex of the lazy graph: an op, its inputs, the shape and dtype it yields.
///
/// Nodes are shared by reference (`Tensor` is a handle), never mutated after init, so a
/// graph can be evaluated many times and from any thread.
public final class Node: Sendable {
    public let op: Op
    /// The operands, in the op's order.
    public let inputs: [Node]
    public let shape: [Int]
    public let dtype: DType

    init(_ op: Op, _ inputs: [Node], shape: [Int], dtype: DType) {
        self.op = op
        self.inputs = inputs
        self.shape = shape
        self.dtype = dtype
    }

    /// Number of elements.
    var count: Int { shape.reduce(1, *) }

    var id: ObjectIdentifier { ObjectIdentifier(self) }
}

/// Shape helpers shared by builders and backends.
enum Shape {
    /// Row-major strides (in elements) of a contiguous array.
    static func strides(_ shape: [Int]) -> [Int] {
        var s = [Int](repeating: 1, count: shape.count)
        var acc = 1
        for i in stride(from: shape.count - 1, through: 0, by: -1) {
            s[i] = acc
            acc *= shape[i]
        }
        return s
    }

    /// Element count, or nil when a dim is negative or the product overflows.
    static func checkedCount(_ shape: [Int]) -> Int? {
        var n = 1
        for d in shape {
            guard d >= 0 else { return nil }
            let (p, o) = n.multipliedReportingOverflow(by: d)
            guard !o else { return nil }
            n = p
        }
        return n
    }

    /// numpy broadcast of two shapes, or nil when they do not broadcast.
    static func broadcast(_ a: [Int], _ b: [Int]) -> [Int]? {
        let n = max(a.count, b.count)
        var out = [Int](repeating: 1, count: n)
        for i in 0..<n {
            let da = i < n - a.count ? 1 : a[i - (n - a.count)]
            let db = i < n - b.count ? 1 : b[i - (n - b.count)]
            if da == db || db == 1 {
                out[i] = da
            } else if da == 1 {
                out[i] = db
            } else {
                return nil
            }
        }
        return out
    }

    /// Strides that read an array of `shape` with `strides` as if broadcast to `target`.
    static func broadcastStrides(_ shape: [Int], _ strides: [Int], to target: [Int]) -> [Int] {
        let pad = target.count - shape.count
        precondition(pad >= 0)
        var out = [Int](repeating: 0, count: target.count)
        for i in 0..<shape.count where shape[i] != 1 || target[pad + i] == 1 {
            out[pad + i] = shape[i] == 1 ? 0 : strides[i]
        }
        return out
    }

    /// Normalizes a possibly negative axis.
    static func axis(_ axis: Int, rank: Int, op: String) throws(ComputeError) -> Int {
        let a = axis < 0 ? axis + rank : axis
        guard a >= 0, a < rank else {
            throw ComputeError(.index("axis \(axis) out of range for rank \(rank)"), op: op)
        }
        return a
    }
}
