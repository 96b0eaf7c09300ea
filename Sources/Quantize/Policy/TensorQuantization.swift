import Formats

/// What a quantization policy decides for one tensor.
public enum TensorQuantization: Sendable, Hashable, CustomStringConvertible {
    /// Left as it is (cast to the output dtype, if one is asked for).
    case keep
    /// MLX affine quantization (`mx.quantize(w, group_size:, bits:)`).
    case affine(bits: Int, groupSize: Int)
    /// A ggml type: a block type, or F32/F16/BF16 for tensors a GGUF preset keeps float.
    case ggml(GGMLType)

    public var description: String {
        switch self {
        case .keep: "keep"
        case .affine(let b, let g): "affine \(b)-bit g\(g)"
        case .ggml(let t): t.name
        }
    }

    /// The bit widths and group sizes `mx.quantize` accepts in affine mode.
    public static let affineBits: Set<Int> = [2, 3, 4, 5, 6, 8]
    public static let affineGroupSizes: Set<Int> = [32, 64, 128]
}
