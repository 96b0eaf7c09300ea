import Formats

/// What one tensor becomes when a checkpoint is quantized (style guide: "A quantizer is a
/// block codec"; cli.md `--bits`, `--group-size`, `--gguf-type`).
public enum QuantizationChoice: Sendable, Hashable, CustomStringConvertible {
    /// Left as it is (norms, biases, 1-D tensors, layers a recipe skips).
    case keep
    /// MLX affine: `x.weight` packed U32, `x.scales`, `x.biases`.
    case affine(bits: Int, groupSize: Int)
    /// A ggml type (a block type, or F16/BF16/F32 for GGUF's non-quantized presets and the
    /// F16 fallback).
    case ggml(GGMLType)

    /// `keep`, `affine 4-bit g64`, `Q4_K`.
    public var description: String {
        switch self {
        case .keep: "keep"
        case .affine(let bits, let groupSize): "affine \(bits)-bit g\(groupSize)"
        case .ggml(let t): t.name
        }
    }
}

/// The layer index of a tensor name: the first dot-separated all-digit component
/// (`model.layers.12.mlp.down_proj.weight` → 12, `blk.3.attn_v.weight` → 3); nil if none.
func layerIndex(_ name: String) -> Int? {
    for part in name.split(separator: ".") where !part.isEmpty && part.allSatisfy(\.isASCII) && part.allSatisfy(\.isNumber) {
        return Int(part)
    }
    return nil
}

/// llama.cpp's and mlx-lm's `use_more_bits(i, n)`: the first and last eighth of the layers
/// and every third layer in between get more bits.
public func useMoreBits(_ i: Int, _ n: Int) -> Bool {
    i < n / 8 || i >= 7 * n / 8 || (i - n / 8) % 3 == 2
}
