import Formats

/// What a checkpoint holds, in the catalog's terms, computed from its tensor list and
/// metadata alone (no tensor data is read).
///
/// It is built on the `TensorSource` protocol so that every reader (safetensors, GGUF, npz,
/// PyTorch, model directories) is described the same way.
public struct CheckpointDescription: Sendable, Hashable {
    /// The source's format.
    public var format: CheckpointFormat
    /// config.json `model_type` (else `architectures[0]`), or GGUF `general.architecture`.
    public var architecture: String?
    /// Sum of element counts; MLX packed weights count unpacked, their scales and biases not.
    public var parameters: Int
    /// The dense floating dtypes present, by decreasing bytes, joined with `+`; nil if none.
    public var dtype: String?
    /// `affine 4-bit g64`, `Q4_K_M`, the dominant GGUF block type, or nil.
    public var quantization: String?
    /// Sum of the tensors' byte counts.
    public var tensorBytes: Int

    /// A description from known values (tests, or a writer that knows what it wrote).
    public init(
        format: CheckpointFormat, architecture: String?, parameters: Int, dtype: String?,
        quantization: String?, tensorBytes: Int
    ) {
        self.format = format
        self.architecture = architecture
        self.parameters = parameters
        self.dtype = dtype
        self.quantization = quantization
        self.tensorBytes = tensorBytes
    }

    /// Describes `source` from its tensors and metadata.
    ///
    /// Sums saturate instead of trapping: the sizes come from a file, and a description is
    /// only a summary.
    public init(source: any TensorSource) {
        let metadata = source.metadata
        let tensors = source.tensors
        let mlx = MLXQuantization(config: metadata, tensors: tensors)

        var parameters = 0
        var tensorBytes = 0
        var denseBytes: [DType: Int] = [:]
        var blockElements: [GGMLType: Int] = [:]
        for t in tensors {
            tensorBytes = tensorBytes.addingSaturating(t.byteCount)
            if mlx.isAuxiliary(t.name) { continue }
            if let unpacked = mlx.unpackedElements(of: t) {
                parameters = parameters.addingSaturating(unpacked)
                continue
            }
            parameters = parameters.addingSaturating(t.elementCount)
            switch t.type {
            case .dense(let d) where d.isFloatingPoint:
                denseBytes[d, default: 0] = denseBytes[d, default: 0].addingSaturating(t.byteCount)
            case .ggml(let g):
                blockElements[g, default: 0] =
                    blockElements[g, default: 0].addingSaturating(t.elementCount)
            default: break
            }
        }
        self.format = source.format
        self.architecture = Self.architecture(metadata)
        self.parameters = parameters
        self.tensorBytes = tensorBytes
        self.dtype =
            denseBytes.isEmpty
            ? nil
            : denseBytes.sorted { ($0.value, $1.key.rawValue) > ($1.value, $0.key.rawValue) }
                .map(\.key.rawValue).joined(separator: "+")
        if let summary = mlx.summary {
            self.quantization = summary
        } else if !blockElements.isEmpty {
            self.quantization =
                Self.ggufFileType(metadata)
                ?? blockElements.max { ($0.value, $1.key.name) < ($1.value, $0.key.name) }?.key.name
        } else {
            self.quantization = nil
        }
    }

    static func architecture(_ metadata: Metadata) -> String? {
        if let a = metadata["general.architecture"]?.stringValue { return a }
        if let a = metadata["model_type"]?.stringValue { return a }
        return metadata["architectures"]?.arrayValue?.first?.stringValue
    }

    /// The quantized llama_ftype names (formats-gguf.md §4, "llama_ftype ids"); the float
    /// ones (ALL_F32, MOSTLY_F16, BF16) are not a quantization.
    static let llamaFileTypes: [Int64: String] = [
        2: "Q4_0", 3: "Q4_1", 7: "Q8_0", 8: "Q5_0", 9: "Q5_1", 10: "Q2_K", 11: "Q3_K_S",
        12: "Q3_K_M", 13: "Q3_K_L", 14: "Q4_K_S", 15: "Q4_K_M", 16: "Q5_K_S", 17: "Q5_K_M",
        18: "Q6_K", 19: "IQ2_XXS", 20: "IQ2_XS", 21: "Q2_K_S", 22: "IQ3_XS", 23: "IQ3_XXS",
        24: "IQ1_S", 25: "IQ4_NL", 26: "IQ3_S", 27: "IQ3_M", 28: "IQ2_S", 29: "IQ2_M",
        30: "IQ4_XS", 31: "IQ1_M", 36: "TQ1_0", 37: "TQ2_0", 38: "MXFP4_MOE", 39: "NVFP4",
        40: "Q1_0",
    ]

    static func ggufFileType(_ metadata: Metadata) -> String? {
        guard let id = metadata["general.file_type"]?.intValue else { return nil }
        return llamaFileTypes[id]
    }
}

extension Int {
    func addingSaturating(_ other: Int) -> Int {
        let (sum, overflow) = addingReportingOverflow(other)
        return overflow ? .max : sum
    }
}
