import Foundation
import Formats

/// The hyper-parameters of a LLaMA-family decoder (Llama 1-3, SmolLM2, Mistral, Qwen2), read
/// from `config.json` as transformers 4 and 5 write it, or from a GGUF's `llama.*`/`qwen2.*`
/// keys (`Llama+GGUF.swift`).
///
/// Every field the forward pass depends on is checked here, once, so a model whose
/// configuration loads can be built without further validation: counts are positive and
/// bounded, heads divide evenly, the RoPE settings are ones the engine reproduces.
///
/// ```swift
/// let config = try LlamaConfiguration(configuration: directory.configuration)
/// print(config.layerCount, config.headDimension)
/// ```
public struct LlamaConfiguration: Sendable, Hashable, Codable {
    /// Which member of the family: they share the layout and differ in details.
    public enum Family: String, Sendable, Hashable, Codable {
        /// Llama, SmolLM2, Mistral (same tensors, same rotary layout).
        case llama
        /// Mistral's `model_type`; identical to `llama` for a full-attention forward pass.
        case mistral
        /// Qwen2: biases on q/k/v projections; GGUF keeps its half-split rotary layout.
        case qwen2
    }

    /// Largest count accepted for layers, heads and widths: far above any released model,
    /// it only keeps products of untrusted fields from overflowing.
    public static let maxCount = 1 << 24

    public var family: Family
    public var hiddenSize: Int
    public var intermediateSize: Int
    public var layerCount: Int
    public var headCount: Int
    public var kvHeadCount: Int
    public var headDimension: Int
    public var vocabularySize: Int
    public var rmsNormEpsilon: Float
    public var rope: RopeConfiguration
    /// The output projection reuses the token embedding (no `lm_head.weight`).
    public var tieWordEmbeddings: Bool
    /// q/k/v (and, for Llama's `attention_bias`, o) projections carry biases.
    public var attentionBias: Bool
    /// Output bias on `o_proj` too (Llama's `attention_bias`; Qwen2 has none there).
    public var outputBias: Bool
    /// MLX affine quantization (`quantization` in an mlx directory's config.json).
    public var quantization: AffineQuantizationConfig?

    enum CodingKeys: String, CodingKey {
        case modelType = "model_type"
        case hiddenSize = "hidden_size"
        case intermediateSize = "intermediate_size"
        case layerCount = "num_hidden_layers"
        case headCount = "num_attention_heads"
        case kvHeadCount = "num_key_value_heads"
        case headDimension = "head_dim"
        case vocabularySize = "vocab_size"
        case rmsNormEpsilon = "rms_norm_eps"
        case ropeTheta = "rope_theta"
        case ropeScaling = "rope_scaling"
        case ropeParameters = "rope_parameters"
        case tieWordEmbeddings = "tie_word_embeddings"
        case attentionBias = "attention_bias"
        case mlpBias = "mlp_bias"
        case hiddenAct = "hidden_act"
        case quantization
    }

    /// A configuration from its parts; `check()` validates it.
    public init(
        family: Family, hiddenSize: Int, intermediateSize: Int, layerCount: Int, headCount: Int,
        kvHeadCount: Int, headDimension: Int, vocabularySize: Int, rmsNormEpsilon: Float,
        rope: RopeConfiguration, tieWordEmbeddings: Bool, attentionBias: Bool,
        outputBias: Bool = false, quantization: AffineQuantizationConfig? = nil
    ) {
        self.family = family
        self.hiddenSize = hiddenSize
        self.intermediateSize = intermediateSize
        self.layerCount = layerCount
        self.headCount = headCount
        self.kvHeadCount = kvHeadCount
        self.headDimension = headDimension
        self.vocabularySize = vocabularySize
        self.rmsNormEpsilon = rmsNormEpsilon
        self.rope = rope
        self.tieWordEmbeddings = tieWordEmbeddings
        self.attentionBias = attentionBias
        self.outputBias = outputBias
        self.quantization = quantization
    }

    public init(from decoder: any Swift.Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let type = try c.decodeIfPresent(String.self, forKey: .modelType) ?? "llama"
        guard let family = Family(rawValue: type) else {
            throw DecodingError.dataCorruptedError(
                forKey: .modelType, in: c,
                debugDescription: "model_type '\(type)' is not a LLaMA-family model")
        }
        self.family = family
        hiddenSize = try c.decode(Int.self, forKey: .hiddenSize)
        intermediateSize = try c.decode(Int.self, forKey: .intermediateSize)
        layerCount = try c.decode(Int.self, forKey: .layerCount)
        headCount = try c.decode(Int.self, forKey: .headCount)
        kvHeadCount = try c.decodeIfPresent(Int.self, forKey: .kvHeadCount) ?? headCount
        vocabularySize = try c.decode(Int.self, forKey: .vocabularySize)
        headDimension =
            try c.decodeIfPresent(Int.self, forKey: .headDimension)
            ?? (headCount > 0 ? hiddenSize / headCount : 0)
        // transformers' defaults: LlamaConfig 1e-6, MistralConfig 1e-6, Qwen2Config 1e-6.
        rmsNormEpsilon = try c.decodeIfPresent(Float.self, forKey: .rmsNormEpsilon) ?? 1e-6
        tieWordEmbeddings = try c.decodeIfPresent(Bool.self, forKey: .tieWordEmbeddings) ?? false
        let bias = try c.decodeIfPresent(Bool.self, forKey: .attentionBias) ?? false
        attentionBias = family == .qwen2 || bias
        outputBias = family != .qwen2 && bias
        if try c.decodeIfPresent(Bool.self, forKey: .mlpBias) == true {
            throw DecodingError.dataCorruptedError(
                forKey: .mlpBias, in: c, debugDescription: "mlp_bias is not supported")
        }
        let act = try c.decodeIfPresent(String.self, forKey: .hiddenAct) ?? "silu"
        guard act == "silu" else {
            throw DecodingError.dataCorruptedError(
                forKey: .hiddenAct, in: c,
                debugDescription: "hidden_act '\(act)' is not supported (silu only)")
        }
        // transformers 5: rope_parameters {rope_theta, rope_type, ...}; transformers 4:
        // top-level rope_theta and rope_scaling {rope_type | type, ...}.
        let parameters = try c.decodeIfPresent(
            RopeConfiguration.Parameters.self, forKey: .ropeParameters)
        let scaling = try c.decodeIfPresent(RopeConfiguration.Parameters.self, forKey: .ropeScaling)
        let topTheta = try c.decodeIfPresent(Double.self, forKey: .ropeTheta)
        var theta: Double = 10000
        if let v = scaling?.ropeTheta { theta = v }
        if let v = topTheta { theta = v }
        if let v = parameters?.ropeTheta { theta = v }
        var p = parameters ?? scaling ?? RopeConfiguration.Parameters()
        if parameters != nil, let scaling, (parameters?.kind ?? "default") == "default" {
            p = scaling
        }
        rope = try RopeConfiguration(theta: theta, parameters: p)
        quantization = try c.decodeIfPresent(AffineQuantizationConfig.self, forKey: .quantization)
    }

    public func encode(to encoder: any Swift.Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(family.rawValue, forKey: .modelType)
        try c.encode(hiddenSize, forKey: .hiddenSize)
        try c.encode(intermediateSize, forKey: .intermediateSize)
        try c.encode(layerCount, forKey: .layerCount)
        try c.encode(headCount, forKey: .headCount)
        try c.encode(kvHeadCount, forKey: .kvHeadCount)
        try c.encode(headDimension, forKey: .headDimension)
        try c.encode(vocabularySize, forKey: .vocabularySize)
        try c.encode(rmsNormEpsilon, forKey: .rmsNormEpsilon)
        try c.encode(tieWordEmbeddings, forKey: .tieWordEmbeddings)
        try c.encode(attentionBias && family != .qwen2, forKey: .attentionBias)
        try c.encode(rope.parameters, forKey: .ropeParameters)
        try c.encodeIfPresent(quantization, forKey: .quantization)
    }

    /// Decodes `config.json`'s members (a model directory's `configuration`).
    /// - Throws: `FormatError` naming `file` and the offending key.
    public init(configuration: Metadata, file: String = "config.json") throws(FormatError) {
        let text = MetadataValue.object(configuration).jsonString()
        do {
            self = try JSONDecoder().decode(Self.self, from: Data(text.utf8))
        } catch let error as FormatError {
            throw error.inFile(file)
        } catch let DecodingError.keyNotFound(key, _) {
            throw FormatError(.invalid("missing key"), file: file, field: key.stringValue)
        } catch let DecodingError.typeMismatch(_, context) {
            throw Self.decodingError(context, file)
        } catch let DecodingError.valueNotFound(_, context) {
            throw Self.decodingError(context, file)
        } catch let DecodingError.dataCorrupted(context) {
            throw Self.decodingError(context, file)
        } catch {
            throw FormatError(.invalid("\(error)"), file: file)
        }
        try check(file: file)
    }

    static func decodingError(_ context: DecodingError.Context, _ file: String) -> FormatError {
        let field = context.codingPath.map(\.stringValue).joined(separator: ".")
        return FormatError(.invalid(context.debugDescription), file: file, field: field)
    }

    /// Checks counts and their relations; every later shape follows from these.
    /// - Throws: `FormatError` naming the field.
    public func check(file: String) throws(FormatError) {
        func positive(_ v: Int, _ field: String) throws(FormatError) {
            guard v > 0, v <= Self.maxCount else {
                throw FormatError(
                    .invalid("\(v) is not in 1...\(Self.maxCount)"), file: file, field: field)
            }
        }
        try positive(hiddenSize, "hidden_size")
        try positive(intermediateSize, "intermediate_size")
        try positive(layerCount, "num_hidden_layers")
        try positive(headCount, "num_attention_heads")
        try positive(kvHeadCount, "num_key_value_heads")
        try positive(headDimension, "head_dim")
        try positive(vocabularySize, "vocab_size")
        guard headCount % kvHeadCount == 0 else {
            throw FormatError(
                .invalid("\(headCount) heads are not a multiple of \(kvHeadCount) kv heads"),
                file: file, field: "num_key_value_heads")
        }
        guard headDimension % 2 == 0 else {
            throw FormatError(
                .invalid("odd head dim \(headDimension)"), file: file, field: "head_dim")
        }
        let (qWidth, o) = headCount.multipliedReportingOverflow(by: headDimension)
        guard !o, qWidth <= Self.maxCount else {
            throw FormatError(.limitExceeded("heads × head_dim"), file: file, field: "head_dim")
        }
        guard rmsNormEpsilon.isFinite, rmsNormEpsilon >= 0 else {
            throw FormatError(.invalid("\(rmsNormEpsilon)"), file: file, field: "rms_norm_eps")
        }
        try rope.check(file: file)
    }

    /// Width of the query projection (heads × head dim).
    public var queryWidth: Int { headCount * headDimension }
    /// Width of each of the key and value projections.
    public var keyValueWidth: Int { kvHeadCount * headDimension }
}
