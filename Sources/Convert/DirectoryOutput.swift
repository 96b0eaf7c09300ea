import Foundation
import Formats

/// The non-weight files of a directory output: side files copied from a model directory,
/// and its `config.json` rewritten for the target (mlx-lm's for MLX, without quantization
/// keys for a dequantized Hugging Face directory).
enum DirectoryOutput {
    static func finish(_ dir: StagingDirectory, plan: ConversionPlan, source: any TensorSource)
        throws(ConvertError)
    {
        guard let model = source as? ModelDirectory else { return }
        try dir.copySideFiles(from: model.path)
        let text: String
        switch plan.format {
        case .mlx:
            let config = MLXLMConventions.config(
                model.configuration, directory: model.path, quantization: plan.mlxQuantizationConfig
            )
            text = MLXLMConventions.configText(config)
        case .hf
        where plan.tensors.contains(where: {
            if case .dequantizeAffine = $0.action { true } else { false }
        }):
            // As transformers' `save_pretrained`: keys sorted, indent 2.
            text =
                MetadataValue.object(MLXLMConventions.dequantizedConfig(model.configuration))
                .jsonString(pretty: true, sortKeys: true) + "\n"
        default:
            return
        }
        do {
            try text.write(toFile: dir.path + "/config.json", atomically: false, encoding: .utf8)
        } catch {
            throw ConvertError(
                "cannot write config.json: \(error.localizedDescription)", file: dir.path)
        }
    }
}
