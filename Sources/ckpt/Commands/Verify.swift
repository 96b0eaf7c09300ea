import ArgumentParser
import Catalog
import Formats
import Verify

/// `ckpt verify REF CAND`: how far a candidate's outputs are from a reference's (cli.md).
struct VerifyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract:
            "Run two models on the same tokens and compare their outputs (KL, top-1, perplexity, errors).",
        discussion: """
            REF and CAND are hf or mlx directories or GGUF files of a supported architecture. \
            Without --tokens or --text a built-in probe paragraph is tokenized with REF's tokenizer \
            (models without a tokenizer get 128 fixed ids). Long inputs run in windows of --window \
            tokens. Exit status 0 when every given threshold holds, 1 when one fails, 2 on errors. \
            The result is recorded on CAND's catalog entry.
            With --tokenizer, compares the ids the two tokenizers (tokenizer.json or a GGUF's \
            vocabulary) give on a probe corpus instead, and fails on the first difference.
            """)

    @Argument(help: "The reference model (directory or GGUF).")
    var reference: String

    @Argument(help: "The candidate model (directory or GGUF).")
    var candidate: String

    @Option(help: "Comma-separated token ids, e.g. 1,2,3.")
    var tokens: String?

    @Option(help: "A UTF-8 text file, tokenized with REF's tokenizer (BOS added as it declares).")
    var text: String?

    @Option(name: .customLong("max-kl"), help: "Fail when the mean KL(ref || cand) exceeds this.")
    var maxKL: Double?

    @Option(
        name: .customLong("min-top1"), help: "Fail when the top-1 agreement is below this (0...1).")
    var minTop1: Double?

    @Option(help: "Fail when the smallest per-position cosine similarity is below this (encoders).")
    var minCosine: Double?

    @Option(help: "Most tokens per forward pass; longer inputs run in windows.")
    var window: Int = 512

    @Flag(help: "Compare the two tokenizers on a probe corpus instead of the models.")
    var tokenizer = false

    @Flag(help: "Print the result as one JSON document on stdout.")
    var json = false

    @OptionGroup var catalog: CatalogOptions

    func validate() throws {
        if tokens != nil && text != nil {
            throw ValidationError("give at most one of --tokens and --text")
        }
        if window < 1 { throw ValidationError("--window must be at least 1") }
        if tokenizer
            && (tokens != nil || text != nil || maxKL != nil || minTop1 != nil || minCosine != nil)
        {
            throw ValidationError(
                "--tokenizer compares tokenizers only; it takes no tokens or thresholds")
        }
    }

    func run() throws {
        if tokenizer { return try runTokenizer() }
        let input: Verification.Input
        if let tokens {
            input = .tokens(try ForwardPass.parseTokens(tokens))
        } else if let text {
            let bytes = try ByteBuffer(mapping: text)
            guard let s = String(validating: bytes.all.raw, as: UTF8.self) else {
                throw FormatError(.invalid("not UTF-8 text"), file: text)
            }
            input = .text(s)
        } else {
            input = .probe
        }
        let options = Verification.Options(
            thresholds: VerificationThresholds(
                maxKL: maxKL, minTop1: minTop1, minCosine: minCosine),
            windowSize: window)
        let (result, entry, warning) = try CatalogedOperations.verify(
            reference: reference, candidate: candidate, input: input, options: options,
            catalogPath: catalog.path)
        if let warning { Terminal.log("warning: \(warning)") }
        if json {
            JSONOutput.print(result.json)
        } else {
            print(result.table)
            if let entry { Terminal.log("catalog: recorded on #\(entry.id)") }
        }
        if !result.passed { throw ExitCode(1) }
    }

    private func runTokenizer() throws {
        let result = try TokenizerVerification.run(reference: reference, candidate: candidate)
        if json { JSONOutput.print(result.json) } else { print(result.table) }
        if !result.passed { throw ExitCode(1) }
    }
}
