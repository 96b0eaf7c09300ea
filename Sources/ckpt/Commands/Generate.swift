import ArgumentParser
import Foundation
import Compute
import Formats
import Verify

struct Generate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Greedy text generation on ckpt's CPU engine, with a key/value cache.",
        discussion:
            "MODEL is an hf or mlx directory (quantized or not) or a GGUF file of the LLaMA "
            + "family (Llama, SmolLM2, Mistral, Qwen2). The prompt is prefilled in one pass, "
            + "then each new token is one step over the cache. Prints the generated text (the "
            + "model's tokenizer decodes it; a model without one prints the ids); with --json, "
            + "the ids, the text (null without a tokenizer) and the prefill and decode speeds.")

    @Argument(help: "A model directory or GGUF file.")
    var model: String

    @Option(help: "The prompt, tokenized with the model's tokenizer (special tokens added).")
    var prompt: String?

    @Option(help: "The prompt as comma-separated token ids, e.g. 1,2,3.")
    var tokens: String?

    @Option(help: "Tokens to generate.")
    var maxTokens = 32

    @Option(help: "Worker threads (default: all processors).")
    var threads: Int?

    @Flag(
        help: """
            BF16 weights: round activations to bfloat16 in matrix products, as torch and MLX \
            compute a bfloat16 model (about 3x faster prefill on CPUs with AVX-512 BF16).
            """)
    var bf16Products = false

    @Flag(help: "Print one JSON document instead of the text.")
    var json = false

    func validate() throws {
        guard (prompt == nil) != (tokens == nil) else {
            throw ValidationError("give exactly one of --prompt and --tokens")
        }
        guard maxTokens >= 0 else { throw ValidationError("--max-tokens must be ≥ 0") }
        if let threads, threads < 1 { throw ValidationError("--threads must be ≥ 1") }
    }

    func run() throws {
        let loaded = try ModelRegistry.load(path: model)
        guard let llama = loaded as? LlamaModel else {
            throw FormatError(
                .unsupported("generation needs a decoder (LLaMA family)"), file: model)
        }
        // With --tokens, a model without a tokenizer still generates (ids only, text null).
        let tokenizer =
            prompt != nil ? try Tokenizers.load(model: model) : try? Tokenizers.load(model: model)
        let ids: [Int32]
        if let tokens {
            ids = try ForwardPass.parseTokens(tokens)
        } else {
            ids = (tokenizer?.encode(prompt ?? "", addSpecialTokens: true) ?? []).map { Int32($0) }
            guard !ids.isEmpty else { throw ValidationError("--prompt gives no tokens") }
        }
        let session = try DecodingSession(
            model: llama, maxLength: ids.count + max(maxTokens, 1),
            options: EvalOptions(threads: threads, bf16Products: bf16Products))
        let result = try session.generate(prompt: ids, maxTokens: maxTokens)
        let text = tokenizer?.decode(result.ids.map { Int($0) }, skipSpecialTokens: false)
        if json {
            let out: Metadata = [
                "ids": .array(result.ids.map { .int64(Int64($0)) }),
                "text": text.map { .string($0) } ?? .null,
                "prefill_tokens_per_second": .float64(result.prefillTokensPerSecond),
                "decode_tokens_per_second": .float64(result.decodeTokensPerSecond),
            ]
            JSONOutput.print(.object(out))
        } else {
            print(text ?? result.ids.map { String($0) }.joined(separator: ","))
            Terminal.log(
                "prefill \(ids.count) tokens: \(Self.rate(result.prefillTokensPerSecond)) tokens/s, "
                    + "decode \(result.steps) tokens: \(Self.rate(result.decodeTokensPerSecond)) tokens/s"
            )
        }
    }

    static func rate(_ x: Double) -> String { String(format: "%.1f", x) }
}
