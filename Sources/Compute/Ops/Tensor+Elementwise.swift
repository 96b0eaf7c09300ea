import Formats

/// Elementwise builders: unary math, binary ops with numpy broadcasting, `where`, casts.
extension Tensor {
    /// The dtype two operands compute in: F32 unless both are the same 16-bit type; an I32
    /// operand takes the other's float type (as MLX does).
    static func promote(_ a: DType, _ b: DType, op: String) throws(ComputeError) -> DType {
        if a == b {
            guard a != .i32 else {
                throw ComputeError(
                    .dtype("I32 ⊕ I32 arithmetic is not computed; cast first"), op: op)
            }
            return a
        }
        if a == .i32 { return b }
        if b == .i32 { return a }
        return .f32
    }

    func checkFloat(_ op: String) throws(ComputeError) {
        guard dtype != .i32 else {
            throw ComputeError(.dtype("\(op) takes a float tensor, got I32"), op: op)
        }
    }

    /// Applies a one-input elementwise op; the result keeps the (float) dtype.
    public func unary(_ op: UnaryOp) throws(ComputeError) -> Tensor {
        try checkFloat(op.rawValue)
        return Tensor(Node(.unary(op), [node], shape: shape, dtype: dtype))
    }

    /// Applies a two-input elementwise op with numpy broadcasting.
    public func binary(_ op: BinaryOp, _ other: Tensor) throws(ComputeError) -> Tensor {
        let isComparison = op == .greater || op == .less || op == .equal
        let d: DType
        if isComparison && dtype == .i32 && other.dtype == .i32 {
            d = .f32
        } else {
            d = try Self.promote(dtype, other.dtype, op: op.rawValue)
        }
        guard let s = Shape.broadcast(shape, other.shape) else {
            throw ComputeError(
                .shape("\(shape) and \(other.shape) do not broadcast"), op: op.rawValue)
        }
        return Tensor(Node(.binary(op), [node, other.node], shape: s, dtype: d))
    }

    /// A scalar constant in this tensor's float dtype (a "weak" scalar: it does not promote).
    func scalarLike(_ v: Float) -> Tensor {
        Tensor(scalar: v, dtype: dtype == .i32 ? .f32 : dtype)
    }

    /// `where(condition, a, b)`: `a` where `condition` ≠ 0, else `b`; all three broadcast.
    public static func `where`(_ condition: Tensor, _ a: Tensor, _ b: Tensor)
        throws(ComputeError) -> Tensor
    {
        let d = try promote(a.dtype, b.dtype, op: "where")
        guard let s1 = Shape.broadcast(a.shape, b.shape),
            let s = Shape.broadcast(condition.shape, s1)
        else {
            throw ComputeError(
                .shape("\(condition.shape), \(a.shape), \(b.shape) do not broadcast"), op: "where")
        }
        return Tensor(Node(.select, [condition.node, a.node, b.node], shape: s, dtype: d))
    }

    /// Converts to `dtype` (F32, F16, BF16 round to nearest even; I32 truncates toward zero).
    public func cast(_ to: DType) throws(ComputeError) -> Tensor {
        guard Self.supportedDTypes.contains(to) else {
            throw ComputeError(.dtype("cannot cast to \(to.rawValue)"), op: "cast")
        }
        if to == dtype { return self }
        return Tensor(Node(.cast, [node], shape: shape, dtype: to))
    }

    /// eˣ, elementwise.
    public func exp() throws(ComputeError) -> Tensor { try unary(.exp) }
    /// Natural logarithm, elementwise.
    public func log() throws(ComputeError) -> Tensor { try unary(.log) }
    /// Square root, elementwise.
    public func sqrt() throws(ComputeError) -> Tensor { try unary(.sqrt) }
    /// 1/√x, elementwise (the RMSNorm scale).
    public func rsqrt() throws(ComputeError) -> Tensor { try unary(.rsqrt) }
    /// Hyperbolic tangent, elementwise.
    public func tanh() throws(ComputeError) -> Tensor { try unary(.tanh) }
    /// Error function, elementwise (exact GELU).
    public func erf() throws(ComputeError) -> Tensor { try unary(.erf) }
    /// |x|, elementwise.
    public func abs() throws(ComputeError) -> Tensor { try unary(.abs) }
    /// x², elementwise.
    public func square() throws(ComputeError) -> Tensor { try unary(.square) }
    /// 1 / (1 + e⁻ˣ), elementwise.
    public func sigmoid() throws(ComputeError) -> Tensor { try unary(.sigmoid) }
    /// `x * sigmoid(x)`.
    public func silu() throws(ComputeError) -> Tensor { try unary(.silu) }
    /// GELU, exact (`0.5 x (1 + erf(x/√2))`) or the tanh approximation.
    public func gelu(approximate: Bool = false) throws(ComputeError) -> Tensor {
        try unary(approximate ? .geluTanh : .geluErf)
    }
    /// Elementwise maximum with broadcasting (NaN propagates).
    public func maximum(_ o: Tensor) throws(ComputeError) -> Tensor { try binary(.maximum, o) }
    /// Elementwise minimum with broadcasting (NaN propagates).
    public func minimum(_ o: Tensor) throws(ComputeError) -> Tensor { try binary(.minimum, o) }

    /// Arithmetic operators build `unary`/`binary` nodes (scalars do not promote the dtype).
    public static prefix func - (a: Tensor) throws(ComputeError) -> Tensor { try a.unary(.neg) }
    public static func + (a: Tensor, b: Tensor) throws(ComputeError) -> Tensor {
        try a.binary(.add, b)
    }
    public static func - (a: Tensor, b: Tensor) throws(ComputeError) -> Tensor {
        try a.binary(.sub, b)
    }
    public static func * (a: Tensor, b: Tensor) throws(ComputeError) -> Tensor {
        try a.binary(.mul, b)
    }
    public static func / (a: Tensor, b: Tensor) throws(ComputeError) -> Tensor {
        try a.binary(.div, b)
    }
    public static func + (a: Tensor, b: Float) throws(ComputeError) -> Tensor {
        try a.binary(.add, a.scalarLike(b))
    }
    public static func - (a: Tensor, b: Float) throws(ComputeError) -> Tensor {
        try a.binary(.sub, a.scalarLike(b))
    }
    public static func * (a: Tensor, b: Float) throws(ComputeError) -> Tensor {
        try a.binary(.mul, a.scalarLike(b))
    }
    public static func / (a: Tensor, b: Float) throws(ComputeError) -> Tensor {
        try a.binary(.div, a.scalarLike(b))
    }
    public static func * (a: Float, b: Tensor) throws(ComputeError) -> Tensor {
        try b.scalarLike(a).binary(.mul, b)
    }
    public static func - (a: Float, b: Tensor) throws(ComputeError) -> Tensor {
        try b.scalarLike(a).binary(.sub, b)
    }
}
