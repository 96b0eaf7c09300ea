import Formats
import Quantize

/// The few model facts conversions need, read from a source's metadata (GGUF hparams or a
/// directory's config.json), without building the model.
enum ArchitectureFacts {
    /// `num_hidden_layers` (config.json, also under `text_config`) or `{arch}.block_count`.
    static func layerCount(_ source: any TensorSource) -> Int? {
        let m = source.metadata
        if let n = m["num_hidden_layers"]?.intValue ?? m["text_config"]?["num_hidden_layers"]?.intValue {
            return Int(n)
        }
        if let arch = m["general.architecture"]?.stringValue, let n = m["\(arch).block_count"]?.intValue {
            return Int(n)
        }
        return nil
    }

    /// What llama-quantize's rules read, from a GGUF with a `general.architecture`.
    static func ggufModelShape(_ source: any TensorSource) -> GGUFModelShape? {
        guard source.format == .gguf, let arch = source.metadata["general.architecture"]?.stringValue,
            let layers = source.metadata["\(arch).block_count"]?.intValue
        else { return nil }
        let heads = source.metadata["\(arch).attention.head_count"]?.intValue ?? 1
        let kv = source.metadata["\(arch).attention.head_count_kv"]?.intValue ?? heads
        let experts = source.metadata["\(arch).expert_count"]?.intValue ?? 0
        return GGUFModelShape(
            architecture: arch, layerCount: Int(layers), headCount: Int(heads), headCountKV: Int(kv),
            expertCount: Int(experts))
    }
}
