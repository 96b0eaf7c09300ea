import Formats

/// A lazy n-dimensional array: a cheap value handle to an immutable graph `Node`.
///
/// Building a tensor runs nothing; `eval(_:)` (or `floats()`, `item()`) runs the graph,
/// which lets the engine fuse elementwise chains and free intermediates at their last use.
/// Dtypes: F32, F16, BF16 (computed in F32, rounded at every op), I32 (indices).
///
/// ```swift
/// let x = try Tensor([1, 2, 3, 4], shape: [2, 2])
/// let y = try (x * x).sum(axes: [1])
/// let values = try y.floats()     // [5, 25]
/// ```
public struct Tensor: Sendable {
    /// The graph vertex this handle names.
    public let node: Node

    init(_ node: Node) { self.node = node }

    public var shape: [Int] { node.shape }
    public var dtype: DType { node.dtype }
    /// Number of dimensions.
    public var rank: Int { node.shape.count }
    /// Number of elements.
    public var count: Int { node.count }

    /// The dtypes the engine computes with.
    public static let supportedDTypes: Set<DType> = [.f32, .f16, .bf16, .i32]

    static func checkShape(_ shape: [Int], op: String) throws(ComputeError) -> Int {
        guard let n = Shape.checkedCount(shape) else {
            throw ComputeError(.shape("invalid shape \(shape)"), op: op)
        }
        return n
    }

    /// A constant from host floats (copied once), stored as `dtype` (F32, F16 or BF16:
    /// values are rounded to it).
    /// - Throws: `ComputeError` when `values.count` is not the product of `shape`.
    public init(_ values: [Float], shape: [Int], dtype: DType = .f32) throws(ComputeError) {
        let n = try Self.checkShape(shape, op: "constant")
        guard n == values.count else {
            throw ComputeError(.shape("\(values.count) values for shape \(shape)"), op: "constant")
        }
        guard dtype == .f32 || dtype == .f16 || dtype == .bf16 else {
            throw ComputeError(.dtype("float values cannot make \(dtype.rawValue)"), op: "constant")
        }
        let s = Storage(elements: n, tracker: nil)
        values.withUnsafeBufferPointer { src in
            guard let b = src.baseAddress else { return }
            s.floats.update(from: b, count: n)
        }
        Scalars.round(s.floats, n, to: dtype)
        self.init(Node(.constant(.host(s, offset: 0)), [], shape: shape, dtype: dtype))
    }

    /// A constant I32 array (indices, token ids).
    public init(int32s values: [Int32], shape: [Int]) throws(ComputeError) {
        let n = try Self.checkShape(shape, op: "constant")
        guard n == values.count else {
            throw ComputeError(.shape("\(values.count) values for shape \(shape)"), op: "constant")
        }
        let s = Storage(elements: n, tracker: nil)
        values.withUnsafeBufferPointer { src in
            guard let b = src.baseAddress else { return }
            s.ints.update(from: b, count: n)
        }
        self.init(Node(.constant(.host(s, offset: 0)), [], shape: shape, dtype: .i32))
    }

    /// A scalar (shape []).
    public init(scalar: Float, dtype: DType = .f32) {
        let s = Storage(elements: 1, tracker: nil)
        s.floats[0] = scalar
        Scalars.round(s.floats, 1, to: dtype)
        let d: DType = (dtype == .f16 || dtype == .bf16) ? dtype : .f32
        self.init(Node(.constant(.host(s, offset: 0)), [], shape: [], dtype: d))
    }

    /// A constant over the bytes of a format-layer slice, without copying: little-endian,
    /// row-major elements of `dtype` (F32, F16, BF16, I32). F32/I32 are read in place when
    /// 4-byte aligned; F16/BF16 are widened when the graph runs.
    /// - Throws: `ComputeError` when the byte count does not match shape × dtype.
    public init(bytes: ByteSlice, dtype: DType, shape: [Int]) throws(ComputeError) {
        let n = try Self.checkShape(shape, op: "constant")
        guard Self.supportedDTypes.contains(dtype), let size = dtype.byteSize else {
            throw ComputeError(.dtype("\(dtype.rawValue) is not computed"), op: "constant")
        }
        let (bytesNeeded, o) = n.multipliedReportingOverflow(by: size)
        guard !o, bytesNeeded == bytes.count else {
            throw ComputeError(
                .shape("\(bytes.count) bytes for shape \(shape) of \(dtype.rawValue)"),
                op: "constant")
        }
        self.init(Node(.constant(.bytes(bytes)), [], shape: shape, dtype: dtype))
    }

    /// Runs the graph and returns the values widened to Float (I32 converted).
    public func floats(options: EvalOptions = EvalOptions()) throws(ComputeError) -> [Float] {
        try eval([self], options: options).arrays[0].floats
    }

    /// Runs the graph and returns an I32 tensor's values.
    public func int32s(options: EvalOptions = EvalOptions()) throws(ComputeError) -> [Int32] {
        try eval([self], options: options).arrays[0].int32s
    }

    /// Runs the graph and returns its single element.
    public func item() throws(ComputeError) -> Float {
        guard count == 1 else {
            throw ComputeError(.shape("item() of \(count) elements"), op: "item")
        }
        return try floats()[0]
    }
}
