import Foundation
import Formats
import Quantize
import Verify

/// GGUF → Hugging Face / MLX directories for LLaMA-family GGUFs: the pieces the planner and the
/// pipeline call (see `GGUFImportSource` for names and layout, `GGUFImportConfig` and
/// `GGUFImportTokenizer` for the side files).
///
/// ```swift
/// let r = try Converter.convert(ConversionRequest(
///     source: "smollm2-q4_1.gguf", destination: "smollm2-hf", format: .hf))
/// // smollm2-hf/: model.safetensors (F32, transformers' names), config.json,
/// // generation_config.json, tokenizer.json, tokenizer_config.json
/// ```
public enum GGUFImport {
    /// The source a directory conversion of `source` reads: a `GGUFImportSource` when
    /// `source` is a GGUF of a LLaMA-family architecture and the output is `hf` or `mlx`, else
    /// nil (other GGUFs keep their tensor names).
    /// - Throws: `ConvertError` when the GGUF claims such an architecture but does not hold one.
    public static func source(
        _ source: any TensorSource, request: ConversionRequest, format: OutputFormat
    )
        throws(ConvertError) -> GGUFImportSource?
    {
        guard format.isDirectory, GGUFImportSource.imports(source) else { return nil }
        do {
            return try GGUFImportSource(gguf: source, file: request.source)
        } catch {
            throw ConvertError(error.description, file: request.source)
        }
    }

    /// What `--to mlx` without `--bits` does with an imported GGUF: Q4_0/Q4_1 blocks become
    /// affine 4-bit groups of 32 and Q8_0 8-bit ones, moved without re-quantizing (exactness is
    /// checked per tensor when written); every other tensor stays float. Returns the choices
    /// and the `quantization` entry of config.json (nil when nothing is quantized), with a
    /// per-layer entry for each module that differs from the most common choice.
    public static func mlxChoices(_ source: GGUFImportSource)
        -> (choices: [String: TensorQuantization], config: Metadata?)
    {
        var choices: [String: TensorQuantization] = [:]
        var bitsCount: [Int: Int] = [:]
        for t in source.tensors {
            guard case .ggml(let g) = t.type, Transcode.ggmlTypes.contains(g), t.shape.count >= 2
            else {
                choices[t.name] = .keep
                continue
            }
            let bits = g == .Q8_0 ? 8 : 4
            choices[t.name] = .affine(bits: bits, groupSize: 32)
            bitsCount[bits, default: 0] += 1
        }
        guard let base = bitsCount.max(by: { ($0.value, $0.key) < ($1.value, $1.key) })?.key,
            let policy = try? MLXQuantizationPolicy(bits: base, groupSize: 32)
        else { return (choices, nil) }
        let list = source.tensors.compactMap { t in
            choices[t.name].map { (name: t.name, choice: $0) }
        }
        return (choices, policy.configEntry(choices: list, perLayer: true))
    }

    /// Writes config.json (with `quantization` for an affine MLX output),
    /// generation_config.json, tokenizer.json and tokenizer_config.json into `directory`.
    /// - Returns: notes by GGUF tensor or file name: what was dropped, recovered, or not written.
    static func writeSideFiles(_ source: GGUFImportSource, plan: ConversionPlan, directory: String)
        throws(ConvertError) -> [String: String]
    {
        var notes = source.dropped
        let dtype =
            plan.request.dtype
            ?? plan.outputs.lazy.compactMap { o -> DType? in
                guard o.shape.count >= 2, case .dense(let d) = o.type, d.isFloatingPoint else {
                    return nil
                }
                return d
            }.first ?? .f32
        var config = GGUFImportConfig.config(source, dtype: dtype, notes: &notes)
        if let q = plan.mlxQuantizationConfig { config = ModelConfig.withQuantization(config, q) }
        try write(ModelConfig.text(config), "config.json", directory)
        try write(
            GGUFImportConfig.text(GGUFImportConfig.generationConfig(source)),
            "generation_config.json", directory)
        let arch = source.metadata["general.architecture"]?.stringValue ?? "llama"
        let context = source.metadata["\(arch).context_length"]?.intValue.map { Int($0) }
        do {
            let t = try GGUFImportTokenizer(
                metadata: source.metadata, contextLength: context, file: source.file)
            try write(MetadataValue.object(t.tokenizer).jsonString(), "tokenizer.json", directory)
            try write(GGUFImportConfig.text(t.tokenizerConfig), "tokenizer_config.json", directory)
        } catch {
            notes["tokenizer.json"] = "not written: \(error.message)"
        }
        return notes
    }

    static func write(_ text: String, _ name: String, _ directory: String) throws(ConvertError) {
        do {
            try text.write(toFile: directory + "/" + name, atomically: false, encoding: .utf8)
        } catch {
            throw ConvertError(
                "cannot write \(name): \(error.localizedDescription)", file: directory)
        }
    }
}
