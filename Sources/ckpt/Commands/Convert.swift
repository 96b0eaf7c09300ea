import ArgumentParser
import Convert
import Formats

struct Convert: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Convert a checkpoint to safetensors, npz, GGUF, or an MLX / Hugging Face directory.",
        discussion: """
            The output is written under a temporary name and renamed into place only when complete.
            Examples:
              ckpt convert model.gguf model.safetensors --dtype bf16
              ckpt convert weights.npz weights.gguf --dtype f16
            """)

    @Argument(help: "The source checkpoint (any format ckpt reads).")
    var source: String

    @Argument(help: "The destination file or directory.")
    var destination: String

    @Option(name: .customLong("to"), help: "Output format: safetensors, npz, gguf, mlx, hf (default: from DST's extension).")
    var format: OutputFormat?

    @Option(help: "Cast floating tensors to f32, f16 or bf16 (quantized tensors are dequantized to it).")
    var dtype: DTypeArgument?

    @Flag(help: "Print the result as one JSON document on stdout.")
    var json = false

    @OptionGroup var catalog: CatalogOptions

    func run() throws {
        let request = ConversionRequest(
            source: source, destination: destination, format: format, dtype: dtype?.dtype)
        let bar = ProgressBar()
        let result = try Converter.convert(request) { p in
            bar.update(done: p.bytesDone, total: p.totalBytes, items: p.tensorsDone, itemCount: p.tensorCount)
        }
        if json {
            print(ConversionReport.json(result).jsonString())
        } else {
            Terminal.log(ConversionReport.text(result))
        }
    }
}

extension OutputFormat: ExpressibleByArgument {}

/// `--dtype`: f32, f16 or bf16, in any case.
struct DTypeArgument: ExpressibleByArgument {
    var dtype: DType
    init?(argument: String) {
        guard let d = DType(name: argument), [.f32, .f16, .bf16].contains(d) else { return nil }
        dtype = d
    }
    static var allValueStrings: [String] { ["f32", "f16", "bf16"] }
}
