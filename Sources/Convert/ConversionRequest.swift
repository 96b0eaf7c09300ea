import Formats

/// The formats `ckpt convert` writes (cli.md).
public enum OutputFormat: String, Sendable, CaseIterable, Codable {
    case safetensors, npz, gguf, mlx, hf

    /// Directory outputs (a model directory with config, tokenizer and weight shards).
    public var isDirectory: Bool { self == .mlx || self == .hf }

    /// The format named by a destination's extension, if any.
    public init?(inferringFrom path: String) {
        let lower = path.lowercased()
        if lower.hasSuffix(".safetensors") { self = .safetensors }
        else if lower.hasSuffix(".npz") { self = .npz }
        else if lower.hasSuffix(".gguf") { self = .gguf }
        else { return nil }
    }
}

/// What a user asks `ckpt convert` to do.
public struct ConversionRequest: Sendable {
    public var source: String
    public var destination: String
    /// The output format; inferred from the destination's extension when nil.
    public var format: OutputFormat?
    /// Cast every floating, non-quantized tensor to this dtype (F32, F16 or BF16); quantized
    /// tensors are dequantized to it (F32 when nil).
    public var dtype: DType?
    /// Largest shard of a directory output (mlx-lm and transformers use 5 GiB).
    public var maxShardBytes: Int

    public static let defaultMaxShardBytes = 5 << 30

    public init(
        source: String, destination: String, format: OutputFormat? = nil, dtype: DType? = nil,
        maxShardBytes: Int = ConversionRequest.defaultMaxShardBytes
    ) {
        self.source = source
        self.destination = destination
        self.format = format
        self.dtype = dtype
        self.maxShardBytes = maxShardBytes
    }

    /// The output format asked for or implied by the destination.
    public func resolvedFormat() throws(ConvertError) -> OutputFormat {
        if let format { return format }
        if let f = OutputFormat(inferringFrom: destination) { return f }
        throw ConvertError(
            "cannot infer the output format from the destination; use --to safetensors|npz|gguf|mlx|hf",
            file: destination)
    }
}
