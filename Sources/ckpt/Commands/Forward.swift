import ArgumentParser
import Formats
import Verify

struct Forward: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run one forward pass on ckpt's CPU engine and write the output as .npy.",
        discussion:
            "MODEL is an hf or mlx directory (quantized or not) or a GGUF file of a supported "
            + "architecture (Llama, SmolLM2, Mistral, Qwen2; BERT). The output is a little-endian "
            + "F32 .npy of shape [len(IDS), vocab] (the logits; for BERT the last hidden state, "
            + "[len(IDS), hidden]), computed in float32.")

    @Argument(help: "A model directory or GGUF file.")
    var model: String

    @Option(help: "Comma-separated token ids, e.g. 1,2,3.")
    var tokens: String?

    @Option(help: "Text to tokenize with the model's own tokenizer instead of --tokens.")
    var text: String?

    @Flag(help: "With --text: add the special tokens the tokenizer declares (BOS, ...).")
    var addSpecialTokens = false

    @Option(help: "The .npy file to write.")
    var output: String

    func validate() throws {
        guard (tokens == nil) != (text == nil) else {
            throw ValidationError("give exactly one of --tokens and --text")
        }
    }

    func run() throws {
        let ids: [Int32]
        if let tokens {
            ids = try ForwardPass.parseTokens(tokens)
        } else {
            let tokenizer = try Tokenizers.load(model: model)
            ids = tokenizer.encode(text ?? "", addSpecialTokens: addSpecialTokens).map { Int32($0) }
            guard !ids.isEmpty else { throw ValidationError("--text gives no tokens") }
        }
        let result = try ForwardPass.run(model: model, tokens: ids)
        try ForwardPass.write(result, to: output)
        Terminal.log("wrote \(output): F32 \(result.shape)")
    }
}
