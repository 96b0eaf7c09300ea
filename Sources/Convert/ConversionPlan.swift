import Formats

/// What happens to one tensor on its way to the output.
public enum TensorAction: Sendable, Hashable, CustomStringConvertible {
    /// Bytes copied unchanged.
    case copy
    /// Elements converted from one dense dtype to another.
    case cast(from: DType, to: DType)
    /// GGML blocks decoded to a dense floating dtype.
    case dequantize(from: GGMLType, to: DType)

    public var description: String {
        switch self {
        case .copy: "copy"
        case .cast(let a, let b): "cast \(a.rawValue) → \(b.rawValue)"
        case .dequantize(let a, let b): "dequantize \(a.name) → \(b.rawValue)"
        }
    }
}

/// One tensor of a plan: where it comes from, what it becomes.
public struct PlannedTensor: Sendable {
    public var source: TensorInfo
    public var output: TensorInfo
    public var action: TensorAction
}

/// Everything a conversion will write, computed from headers alone (no tensor data read):
/// sinks that put offsets in their header (GGUF, safetensors) get this before any bytes.
public struct ConversionPlan: Sendable {
    public var request: ConversionRequest
    public var sourceFormat: CheckpointFormat
    public var format: OutputFormat
    public var metadata: Metadata
    public var tensors: [PlannedTensor]

    public var outputBytes: Int { tensors.reduce(0) { $0 + $1.output.byteCount } }
}
