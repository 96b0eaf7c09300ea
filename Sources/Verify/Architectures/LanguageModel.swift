import Compute
import Formats

/// A model ckpt runs on its own engine: token ids in, a float32 [T, width] tensor out
/// (logits for decoders, the last hidden state for encoders).
///
/// `ckpt forward` and `ckpt verify` only need this, so they work for every architecture
/// the registry knows.
public protocol LanguageModel: Sendable {
    /// Ids accepted are `0 ..< vocabularySize`.
    var vocabularySize: Int { get }
    /// The output's last dimension (vocabulary for logits, hidden size for encoders).
    var outputWidth: Int { get }
    /// The output [tokens.count, outputWidth] as a lazy graph.
    func forward(tokens: [Int32]) throws(ComputeError) -> Tensor
    /// Whether the output is next-token logits (decoders) rather than a hidden state
    /// (encoders): `ckpt verify` computes KL, top-1 and perplexity only for logits.
    var outputsLogits: Bool { get }
    /// The most tokens one forward pass accepts (an encoder's learned positions), or nil
    /// when only memory limits it (RoPE decoders).
    var maxTokens: Int? { get }
}

extension LanguageModel {
    /// Decoders output logits; encoders override this.
    public var outputsLogits: Bool { true }
    /// No limit unless the architecture declares one.
    public var maxTokens: Int? { nil }
}

/// The architectures ckpt runs, found from a checkpoint's metadata.
///
/// ```swift
/// let model = try ModelRegistry.load(path: "SmolLM2-135M")
/// let logits = try model.forward(tokens: [1, 2, 3]).floats()
/// ```
public enum ModelRegistry {
    /// `model_type` values (config.json) of the LLaMA family.
    public static let llamaModelTypes: Set<String> = ["llama", "mistral", "qwen2"]
    /// `model_type` values of encoders whose output is the last hidden state.
    public static let encoderModelTypes: Set<String> = ["bert"]
    /// `general.architecture` values (GGUF) of the LLaMA family.
    public static let llamaGGUFArchitectures: Set<String> = ["llama", "qwen2"]

    /// Opens `path` (an hf or mlx directory, or a GGUF file) and builds its model.
    /// - Throws: `FormatError` for an unreadable checkpoint, an architecture ckpt does not
    ///   run, or weights that do not fit the configuration.
    public static func load(path: String) throws(FormatError) -> any LanguageModel {
        let source = try Checkpoint.open(path)
        return try load(source: source, file: path)
    }

    /// Builds the model of an opened checkpoint (`file` names it in errors).
    public static func load(source: any TensorSource, file: String) throws(FormatError)
        -> any LanguageModel
    {
        switch source.format {
        case .gguf:
            let arch = source.metadata["general.architecture"]?.stringValue ?? "(none)"
            guard llamaGGUFArchitectures.contains(arch) else {
                throw FormatError(
                    .unsupported("architecture '\(arch)'"), file: file,
                    field: "general.architecture")
            }
            return try LlamaModel(source: source, file: file)
        case .hf, .mlx:
            let type = source.metadata["model_type"]?.stringValue ?? "(none)"
            if type == "bert" { return try BertModel(source: source, file: file) }
            guard llamaModelTypes.contains(type) else {
                throw FormatError(
                    .unsupported("model_type '\(type)'"), file: file + "/config.json",
                    field: "model_type")
            }
            return try LlamaModel(source: source, file: file)
        default:
            throw FormatError(
                .unsupported(
                    "a \(source.format.rawValue) file has no architecture; give a model directory or a GGUF"
                ),
                file: file)
        }
    }
}
