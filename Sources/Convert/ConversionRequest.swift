import Formats
import Quantize

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
    /// MLX affine quantization (`--bits`, `--group-size`, `--mlx-recipe`), for mlx and
    /// safetensors outputs.
    public var affine: AffineOptions?
    /// GGUF block quantization (`--gguf-type`), for GGUF outputs.
    public var gguf: GGUFOptions?
    /// Quantize NaN/Inf weights instead of refusing them.
    public var allowNonFinite: Bool
    /// User rules over the policy's choices (`--override PATTERN[@LAYERS]=CHOICE`); the first
    /// match wins.
    public var overrides: [QuantizationOverride]
    /// Measure each quantized tensor's error against its source (`--error-report`).
    public var errorReport: Bool = false
    /// Convolution-weight layout of the output (`--layout`); nil: MLX for `--to mlx`,
    /// PyTorch for hf and GGUF, the source's otherwise (`ConvLayout`).
    public var layout: WeightLayout? = nil

    /// `--bits`, `--group-size` and an optional mixed recipe.
    public struct AffineOptions: Sendable, Hashable {
        public var bits: Int
        public var groupSize: Int
        public var recipe: MLXRecipe?
        public init(bits: Int, groupSize: Int = 64, recipe: MLXRecipe? = nil) {
            self.bits = bits
            self.groupSize = groupSize
            self.recipe = recipe
        }
    }

    /// `--gguf-type` (a type or a llama-quantize preset), optionally pure.
    public struct GGUFOptions: Sendable, Hashable {
        public var preset: GGUFPreset
        /// One type for every quantizable tensor (llama-quantize's `--pure`).
        public var pure: Bool
        public init(preset: GGUFPreset, pure: Bool = false) {
            self.preset = preset
            self.pure = pure
        }
    }

    public static let defaultMaxShardBytes = 5 << 30

    public init(
        source: String, destination: String, format: OutputFormat? = nil, dtype: DType? = nil,
        affine: AffineOptions? = nil, gguf: GGUFOptions? = nil, allowNonFinite: Bool = false,
        overrides: [QuantizationOverride] = [],
        maxShardBytes: Int = ConversionRequest.defaultMaxShardBytes
    ) {
        self.overrides = overrides
        self.source = source
        self.destination = destination
        self.format = format
        self.dtype = dtype
        self.affine = affine
        self.gguf = gguf
        self.allowNonFinite = allowNonFinite
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

extension ConversionRequest {
    /// The operation as the catalog records it: `convert --to mlx --bits 4 --group-size 64`.
    public var operationDescription: String {
        var parts = ["convert"]
        if let f = try? resolvedFormat() { parts += ["--to", f.rawValue] }
        if let d = dtype { parts += ["--dtype", d.rawValue.lowercased()] }
        if let a = affine {
            parts += ["--bits", String(a.bits), "--group-size", String(a.groupSize)]
            if let r = a.recipe { parts += ["--mlx-recipe", r.rawValue] }
        }
        if let g = gguf {
            parts += ["--gguf-type", g.preset.description]
            if g.pure { parts.append("--pure") }
        }
        for o in overrides { parts += ["--override", o.description] }
        if let l = layout { parts += ["--layout", l.rawValue] }
        if allowNonFinite { parts.append("--allow-non-finite") }
        return parts.joined(separator: " ")
    }
}
