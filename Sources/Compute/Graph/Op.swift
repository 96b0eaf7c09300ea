import Formats

/// Elementwise one-input operations.
public enum UnaryOp: String, Sendable, Hashable, CaseIterable {
    case neg, exp, log, sqrt, rsqrt, tanh, erf, abs, square, silu, geluErf, geluTanh, sigmoid
}

/// Elementwise two-input operations (numpy broadcasting).
public enum BinaryOp: String, Sendable, Hashable, CaseIterable {
    case add, sub, mul, div, maximum, minimum, greater, less, equal
}

/// Reductions along axes.
public enum ReduceOp: String, Sendable, Hashable, CaseIterable {
    case sum, mean, max, logsumexp
}

/// Which dimensions of the head are paired by rotary embedding.
public enum RopeLayout: String, Sendable, Hashable {
    /// Pairs `(x[2i], x[2i+1])` (GPT-J, MLX `traditional=True`, GGUF `rope` norm style).
    case interleaved
    /// Pairs `(x[i], x[i + d/2])` (HF LLaMA `rotate_half`, GGUF neox style).
    case halfSplit
}

/// Parameters of rotary position embedding.
public struct RopeSpec: Sendable, Hashable {
    public var base: Float
    public var layout: RopeLayout
    /// Position of the first row (tokens already in the cache).
    public var offset: Int
    /// Rotated leading dims of each head (the rest pass through); even, ≤ head dim.
    public var dims: Int
}

/// Parameters of scaled dot-product attention.
public struct AttentionSpec: Sendable, Hashable {
    public var scale: Float
    /// Query t attends keys `0...(t + keys - queries)` (the queries are the last rows).
    public var causal: Bool
}

/// A node's operation: a closed set, so every backend handles every case.
///
/// Views (`reshape`, `permute`, `slice`, `broadcast`) share their input's memory when the
/// backend can express them as strides; elementwise ops (`unary`, `binary`, `select`,
/// `cast`) are what the CPU backend fuses into single loops.
public enum Op: Sendable {
    /// Data known before eval (a host array or a slice of a mapped file).
    case constant(Constant)
    case unary(UnaryOp)
    case binary(BinaryOp)
    /// `where(cond, a, b)`: a where cond ≠ 0, else b.
    case select
    /// Conversion to the node's dtype (F32/F16/BF16 round to nearest even; to I32 truncates).
    case cast
    /// Same elements, the node's shape, row-major order.
    case reshape
    /// Axis permutation: output axis i is input axis `axes[i]`.
    case permute([Int])
    /// Strided window: output index i of axis a reads input `start[a] + i * step[a]`.
    case slice(start: [Int], step: [Int])
    /// numpy broadcast to the node's shape.
    case broadcast
    /// Reduction over sorted `axes`; the node's shape tells whether dims are kept.
    case reduce(ReduceOp, axes: [Int])
    /// Index of the first maximum along `axis` (I32, axis removed).
    case argmax(axis: Int)
    case softmax(axis: Int)
    /// `a @ b` with batch broadcasting; transposed operands arrive as permute views.
    case matmul
    case concat(axis: Int)
    /// numpy `take(a, indices, axis)`: inputs (a, indices I32).
    case take(axis: Int)
    /// `x * rsqrt(mean(x², -1) + eps) * weight`: inputs (x, weight).
    case rmsNorm(eps: Float)
    /// `(x - mean) * rsqrt(var + eps) * weight + bias`: inputs (x, weight, bias).
    case layerNorm(eps: Float)
    /// Rotary embedding over the last axis, rows are positions (axis -2).
    case rope(RopeSpec)
    /// Inputs (q [B,Hq,T,D], k [B,Hkv,S,D], v [B,Hkv,S,D]); Hq a multiple of Hkv.
    case attention(AttentionSpec)
    /// `x @ W.T` for packed `W` [N, K]: input x [..., K].
    case quantizedMatmul(QuantizedWeight)
    /// Rows of packed `W` [N, K] for I32 ids of any shape: output [..., K].
    case quantizedEmbedding(QuantizedWeight)

    /// A short name for errors and statistics.
    public var name: String {
        switch self {
        case .constant: "constant"
        case .unary(let u): u.rawValue
        case .binary(let b): b.rawValue
        case .select: "where"
        case .cast: "cast"
        case .reshape: "reshape"
        case .permute: "transpose"
        case .slice: "slice"
        case .broadcast: "broadcast"
        case .reduce(let r, _): r.rawValue
        case .argmax: "argmax"
        case .softmax: "softmax"
        case .matmul: "matmul"
        case .concat: "concat"
        case .take: "take"
        case .rmsNorm: "rms_norm"
        case .layerNorm: "layer_norm"
        case .rope: "rope"
        case .attention: "attention"
        case .quantizedMatmul: "quantized_matmul"
        case .quantizedEmbedding: "quantized_embedding"
        }
    }

    /// Elementwise ops, which the CPU backend fuses.
    var isElementwise: Bool {
        switch self {
        case .unary, .binary, .select, .cast: true
        default: false
        }
    }

    /// Views, which cost no kernel when the input's layout allows strides.
    var isView: Bool {
        switch self {
        case .reshape, .permute, .slice, .broadcast: true
        default: false
        }
    }
}
