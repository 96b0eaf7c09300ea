import Formats

/// Edits of a model directory's `config.json` that conversions make.
public enum ModelConfig {
    /// The config with `quantization` and its copy `quantization_config`, as
    /// `mlx_lm.utils.quantize_model` / `save_config` write them (minus `_name_or_path`).
    public static func withQuantization(_ config: Metadata, _ quantization: Metadata) -> Metadata {
        var c = config
        c.removeValue(forKey: "_name_or_path")
        c["quantization"] = .object(quantization)
        c["quantization_config"] = .object(quantization)
        return c
    }

    /// `config.json` text as mlx-lm's `save_config` writes it: keys sorted, indent 4.
    public static func text(_ config: Metadata) -> String {
        MetadataValue.object(config).jsonString(pretty: true, sortKeys: true, indentWidth: 4)
    }
}
