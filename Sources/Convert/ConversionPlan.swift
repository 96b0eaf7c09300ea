import Formats
import Quantize

/// What happens to one tensor on its way to the output.
public enum TensorAction: Sendable, Hashable, CustomStringConvertible {
    /// Bytes copied unchanged.
    case copy
    /// Elements converted from one dense dtype to another.
    case cast(from: DType, to: DType)
    /// GGML blocks decoded to a dense floating dtype.
    case dequantize(from: GGMLType, to: DType)
    /// MLX affine quantization: three outputs (packed codes, scales, biases), scales and
    /// biases in `dtype`.
    case quantizeAffine(bits: Int, groupSize: Int, dtype: DType)
    /// GGML block quantization (from float, or re-quantizing another block type).
    case quantizeGGML(GGMLType)
    /// GGUF Q4_0 / Q4_1 / Q8_0 blocks moved into MLX affine g32 groups without re-quantizing,
    /// when that is exact (checked per tensor); otherwise dequantized and re-quantized.
    case transcodeToAffine(from: GGMLType, dtype: DType)

    public var description: String {
        switch self {
        case .copy: "copy"
        case .cast(let a, let b): "cast \(a.rawValue) → \(b.rawValue)"
        case .dequantize(let a, let b): "dequantize \(a.name) → \(b.rawValue)"
        case .quantizeAffine(let b, let g, _): "quantize affine \(b)-bit g\(g)"
        case .quantizeGGML(let t): "quantize \(t.name)"
        case .transcodeToAffine(let t, _): "transcode \(t.name) → affine \(t == .Q8_0 ? 8 : 4)-bit g32"
        }
    }
}

/// One source tensor of a plan: where it comes from, what it becomes (one output tensor, or
/// three for MLX affine quantization: `x.weight`, `x.scales`, `x.biases`).
public struct PlannedTensor: Sendable {
    public var source: TensorInfo
    public var outputs: [TensorInfo]
    public var action: TensorAction
    /// Why the chosen type differs from the one asked for (llama-quantize's row-length
    /// fallback), if it does.
    public var note: String?

    /// The main output (the only one, except for affine quantization).
    public var output: TensorInfo { outputs[0] }
}

/// Everything a conversion will write, computed from headers alone (no tensor data read):
/// sinks that put offsets in their header (GGUF, safetensors) get this before any bytes.
public struct ConversionPlan: Sendable {
    public var request: ConversionRequest
    public var sourceFormat: CheckpointFormat
    public var format: OutputFormat
    public var metadata: Metadata
    public var tensors: [PlannedTensor]
    /// The `quantization` entry an MLX `config.json` gets, for affine-quantized directories.
    public var mlxQuantizationConfig: Metadata?
    /// The source as planned when a LLaMA-family GGUF becomes an hf/mlx directory (Hugging
    /// Face names, q/k rows un-permuted): `Converter.run` reads this instead of the GGUF.
    public var ggufImport: GGUFImportSource? = nil

    /// Output tensors in writing order.
    public var outputs: [TensorInfo] { tensors.flatMap(\.outputs) }
    public var outputBytes: Int { tensors.reduce(0) { $0 + $1.outputs.reduce(0) { $0 + $1.byteCount } } }
}
