import Formats

/// How a checkpoint lays out convolution weights: PyTorch (and Hugging Face, safetensors
/// written from torch) `(out, in, k...)`, MLX `(out, k..., in)` (`mlx.nn.Conv1d/2d/3d`).
public enum WeightLayout: String, Sendable, CaseIterable, Codable {
    case pytorch, mlx
}

/// The convolution-weight transposition of conversions to and from MLX (cli.md).
///
/// Which tensors are convolution weights: a floating `*.weight` of rank 3, 4 or 5 (Conv1d,
/// Conv2d, Conv3d). Linear and Embedding weights are 2-D and norms 1-D, so no LLM weight
/// matches; transposed convolutions (PyTorch `(in, out, k...)`) are not told apart from
/// convolutions by shape, so a checkpoint with `ConvTranspose` weights must be converted
/// with `--layout` equal to the source's and transposed by the user.
///
/// The source's layout: MLX for an MLX directory (ModelDirectory `.mlx`) or a safetensors
/// file whose `__metadata__` has `format: mlx`; PyTorch for everything else. The output's:
/// `--layout` when given, else MLX for `--to mlx`, PyTorch for `--to hf` and GGUF, and the
/// source's for plain safetensors/npz files (no change).
public enum ConvLayout {
    static func sourceLayout(_ source: any TensorSource) -> WeightLayout {
        switch source.format {
        case .mlx: return .mlx
        case .safetensors: return source.metadata["format"]?.stringValue == "mlx" ? .mlx : .pytorch
        default: return .pytorch
        }
    }

    static func targetLayout(
        _ format: OutputFormat, request: ConversionRequest, source: WeightLayout
    ) -> WeightLayout {
        if let l = request.layout { return l }
        switch format {
        case .mlx: return .mlx
        case .hf, .gguf: return .pytorch
        case .safetensors, .npz: return source
        }
    }

    /// Whether `t` is a convolution weight (the rule above).
    public static func isConvolutionWeight(_ t: TensorInfo) -> Bool {
        guard t.name.hasSuffix(".weight"), (3...5).contains(t.shape.count),
            case .dense(let d) = t.type, d.isFloatingPoint, d.byteSize != nil
        else { return false }
        return true
    }

    /// The axes of the output in terms of the source's: to MLX `[0, 2, ..., n-1, 1]`, to
    /// PyTorch `[0, n-1, 1, ..., n-2]`.
    public static func permutation(rank n: Int, to layout: WeightLayout) -> [Int] {
        switch layout {
        case .mlx: return [0] + Array(2..<n) + [1]
        case .pytorch: return [0, n - 1] + Array(1..<(n - 1))
        }
    }

    /// Copies the row-major tensor `src` of `shape` (elements of `elementSize` bytes) into
    /// `dst` with its axes permuted: output axis `i` is source axis `permutation[i]`.
    /// - Throws: when the sizes do not match the shape (our invariant, checked anyway).
    static func permute(
        _ src: UnsafeRawBufferPointer, shape: [Int], elementSize: Int, permutation: [Int],
        into dst: UnsafeMutableRawBufferPointer
    ) throws(ConvertError) {
        let n = shape.reduce(1, *)
        guard src.count == n * elementSize, dst.count == n * elementSize,
            permutation.count == shape.count,
            Set(permutation) == Set(shape.indices)
        else { throw ConvertError("permute: \(src.count) bytes do not hold shape \(shape)") }
        var srcStrides = [Int](repeating: 1, count: shape.count)
        for i in stride(from: shape.count - 2, through: 0, by: -1) {
            srcStrides[i] = srcStrides[i + 1] * shape[i + 1]
        }
        let outShape = permutation.map { shape[$0] }
        let strides = permutation.map { srcStrides[$0] }
        var index = [Int](repeating: 0, count: shape.count)
        var from = 0
        guard let s = src.baseAddress, let d = dst.baseAddress, n > 0 else { return }
        // Walks the output in row-major order; `from` is the source element of `index`.
        // Each index stays below its dimension, so `from` stays below n.
        for o in 0..<n {
            (d + o * elementSize).copyMemory(from: s + from * elementSize, byteCount: elementSize)
            var axis = shape.count - 1
            while axis >= 0 {
                index[axis] += 1
                from += strides[axis]
                if index[axis] < outShape[axis] { break }
                from -= strides[axis] * outShape[axis]
                index[axis] = 0
                axis -= 1
            }
        }
    }
}
