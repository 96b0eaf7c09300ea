import ArgumentParser
import Catalog
import Convert
import Formats
import Quantize
import Verify

struct Convert: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Convert a checkpoint to safetensors, npz, GGUF, or an MLX / Hugging Face directory.",
        discussion: """
            The output is written under a temporary name and renamed into place only when complete.
            Examples:
              ckpt convert model.gguf model.safetensors --dtype bf16
              ckpt convert weights.npz weights.gguf --dtype f16
              ckpt convert SmolLM2-135M/ smollm2.gguf --gguf-type Q4_K_M
              ckpt convert hf-model/ mlx-model/ --to mlx --bits 4 --dry-run
            A Llama / SmolLM2 / Mistral / Qwen2 / BERT directory (hf, or mlx: affine weights
            dequantized or moved exactly into Q4_0/Q4_1/Q8_0) becomes the GGUF llama.cpp's
            converter writes, tokenizer included; the conversion fails if the embedded
            vocabulary does not tokenize like tokenizer.json.
            """)

    @Argument(help: "The source checkpoint (any format ckpt reads).")
    var source: String

    @Argument(help: "The destination file or directory.")
    var destination: String

    @Option(name: .customLong("to"), help: "Output format: safetensors, npz, gguf, mlx, hf (default: from DST's extension).")
    var format: OutputFormat?

    @Option(help: "Cast floating tensors to f32, f16 or bf16 (quantized tensors are dequantized to it).")
    var dtype: DTypeArgument?

    @Option(help: "MLX affine quantization: bits per weight (2, 3, 4, 5, 6, 8), for --to mlx or .safetensors.")
    var bits: Int?

    @Option(help: "MLX affine group size (32, 64, 128).")
    var groupSize: Int = 64

    @Option(help: "MLX mixed recipe as mlx_lm.convert --quant-predicate: mixed_2_6, mixed_3_4, mixed_3_6, mixed_4_6.")
    var mlxRecipe: MLXRecipe?

    @Option(help: "GGUF quantization: a type (F32 F16 BF16 Q8_0 Q4_0 Q4_1 Q5_0 Q5_1 Q2_K Q3_K Q4_K Q5_K Q6_K) or a llama-quantize preset (Q4_K_M Q4_K_S Q5_K_M Q5_K_S Q3_K_M Q3_K_S Q3_K_L Q2_K_S).")
    var ggufType: GGUFPresetArgument?

    @Flag(help: "With --gguf-type: the one type for every quantizable tensor, as llama-quantize --pure.")
    var pure = false

    @Option(name: .customLong("override"), help: ArgumentHelp(
        "A rule over the quantization policy, repeatable, first match wins: PATTERN[@FIRST-LAST]=CHOICE, CHOICE a ggml type, affine:BITS[:GROUP] or keep (e.g. attn_v=Q8_0, ffn_down@0-3=Q6_K, lm_head=affine:8).",
        valueName: "rule"))
    var overrides: [String] = []

    @Flag(help: "Report each quantized tensor's error (RMSE, max abs error, relative to the weights' RMS).")
    var errorReport = false

    @Flag(help: "Quantize NaN/Inf weights instead of refusing them.")
    var allowNonFinite = false

    @Option(help: ArgumentHelp(
        "Convolution-weight layout of the output: pytorch (out, in, k...) or mlx (out, k..., in). Default: mlx for --to mlx, pytorch for hf and gguf, the source's for plain files. Convolution weights are the floating *.weight tensors of rank 3-5; an MLX directory or a safetensors file with metadata format=mlx is read as MLX layout, anything else as PyTorch. ConvTranspose weights are not recognised.",
        valueName: "layout"))
    var layout: WeightLayout?

    @Flag(help: "Print the plan (each tensor: source, output names, dtypes, bytes; totals) and write nothing.")
    var dryRun = false

    @Flag(help: "Print the result as one JSON document on stdout.")
    var json = false

    @Flag(inversion: .prefixedNo, help: "Run the output against the source on a probe text and fail (keeping the output) when it misses the thresholds for its bits (default: on for quantized outputs of a supported architecture).")
    var verify: Bool?

    @Option(name: .customLong("verify-max-kl"), help: "With verification: the largest mean KL(source || output) allowed (default by bits: 0.02 for 8, 1.2 for 4; see docs).")
    var verifyMaxKL: Double?

    @Option(name: .customLong("verify-min-top1"), help: "With verification: the smallest top-1 agreement allowed (default by bits: 0.9 for 8, 0.4 for 4).")
    var verifyMinTop1: Double?

    @OptionGroup var catalog: CatalogOptions

    func run() throws {
        if mlxRecipe != nil && bits == nil {
            throw ValidationError("--mlx-recipe needs --bits (the bits of the layers the recipe leaves low)")
        }
        var request = ConversionRequest(
            source: source, destination: destination, format: format, dtype: dtype?.dtype,
            affine: bits.map { .init(bits: $0, groupSize: groupSize, recipe: mlxRecipe) },
            gguf: ggufType.map { .init(preset: $0.preset, pure: pure) },
            allowNonFinite: allowNonFinite,
            overrides: try overrides.map { spec throws in try QuantizationOverride(parsing: spec, groupSize: groupSize) })
        request.errorReport = errorReport
        request.layout = layout
        if dryRun {
            let plan = try Converter.plan(request)
            print(json ? PlanReport.json(plan).jsonString() : PlanReport.text(plan))
            return
        }
        let bar = ProgressBar()
        let outcome = try CatalogedOperations.convertAndVerify(
            request, verify: verify,
            thresholds: VerificationThresholds(maxKL: verifyMaxKL, minTop1: verifyMinTop1), catalogPath: catalog.path) { p in
            bar.update(done: p.bytesDone, total: p.totalBytes, items: p.tensorsDone, itemCount: p.tensorCount)
        }
        let result = outcome.result
        if let warning = outcome.warning { Terminal.log("warning: \(warning)") }
        if let entry = outcome.entry, !json { Terminal.log("catalog: recorded as #\(entry.id)") }
        if json {
            var doc = ConversionReport.json(result)
            if case .object(var o) = doc {
                o["verification"] = outcome.verification?.json ?? .null
                if let why = outcome.skipped { o["verification_skipped"] = .string(why) }
                doc = .object(o)
            }
            print(doc.jsonString())
        } else {
            Terminal.log(ConversionReport.text(result))
            if errorReport { print(ConversionReport.errorTable(result)) }
            if let v = outcome.verification { Terminal.log("verify (source vs output):\n" + v.table) }
            if let why = outcome.skipWarning { Terminal.log("warning: verify skipped: \(why)") }
        }
        for f in result.lint {
            Terminal.log("lint: \(f.severity.rawValue): [\(f.code)] \(f.file)\(f.tensor.map { ": " + $0 } ?? ""): \(f.message)")
        }
        // The output stays for inspection; a lint error in what ckpt wrote, or a missed
        // verification threshold, is a failure.
        if result.lint.contains(where: { $0.severity == .error }) || !outcome.passed { throw ExitCode(1) }
    }
}

extension OutputFormat: ExpressibleByArgument {}
extension MLXRecipe: ExpressibleByArgument {}
extension WeightLayout: ExpressibleByArgument {}

/// `--gguf-type`: a ggml type or a llama-quantize preset name.
struct GGUFPresetArgument: ExpressibleByArgument {
    var preset: GGUFPreset
    init?(argument: String) {
        guard let p = GGUFPreset(name: argument) else { return nil }
        preset = p
    }
    static var allValueStrings: [String] { GGUFPreset.names }
}

/// `--dtype`: f32, f16 or bf16, in any case.
struct DTypeArgument: ExpressibleByArgument {
    var dtype: DType
    init?(argument: String) {
        guard let d = DType(name: argument), [.f32, .f16, .bf16].contains(d) else { return nil }
        dtype = d
    }
    static var allValueStrings: [String] { ["f32", "f16", "bf16"] }
}
