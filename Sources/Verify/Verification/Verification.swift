import Compute
import Foundation
import Formats

/// `ckpt verify`: runs a reference and a candidate model on the same token ids and measures
/// how far apart their outputs are (cli.md: KL, top-1 agreement, perplexities, errors, cosine).
///
/// Models are anything `ModelRegistry` loads (hf and mlx directories, quantized or not, GGUF
/// files), so a conversion is checked against its source on ckpt's own engine, without a
/// logits file. Long inputs run in independent windows; the statistics cover every position
/// of every window.
///
/// ```swift
/// let r = try Verification.run(
///     reference: "SmolLM2-135M", candidate: "smol-q4",
///     options: .init(thresholds: .init(maxKL: 0.1, minTop1: 0.8)))
/// print(r.table, r.passed)
/// ```
public enum Verification {
    /// What to run and what to require.
    public struct Options: Sendable, Hashable {
        /// The limits; none set means the result passes unless the outputs are not finite.
        public var thresholds: VerificationThresholds
        /// Most tokens in one forward pass (lowered to a model's own limit).
        public var windowSize: Int
        /// How the engine runs.
        public var eval: EvalOptions

        /// The default window (512 tokens) keeps attention's [T, T] scores small.
        public init(
            thresholds: VerificationThresholds = VerificationThresholds(), windowSize: Int = 512,
            eval: EvalOptions = EvalOptions()
        ) {
            self.thresholds = thresholds
            self.windowSize = windowSize
            self.eval = eval
        }
    }

    /// Where the ids to run come from.
    public enum Input: Sendable, Hashable {
        /// These ids, as given.
        case tokens([Int32])
        /// This text, tokenized with the reference's tokenizer (else the candidate's).
        case text(String)
        /// `probeText`, tokenized the same way; models without a tokenizer get
        /// `syntheticTokens` instead.
        case probe
    }

    /// A varied English paragraph with numbers, code and punctuation: enough positions
    /// (about 200 tokens for a 49k BPE vocabulary) for stable statistics, short enough to run
    /// in seconds on a 135M model.
    public static let probeText = """
        The history of computing is full of small ideas that changed everything. In 1945, \
        John von Neumann described a machine that kept its program in the same memory as its \
        data; by 1951 the UNIVAC I was counting votes for a television network. Today a phone \
        holds 8 GB of RAM and runs models with 135 million parameters, at 20-30 tokens per \
        second. Consider this Python function:

        def mean(xs):
            return sum(xs) / len(xs) if xs else 0.0

        It returns 2.5 for [1, 2, 3, 4]. Why does "floating point" matter? Because 0.1 + 0.2 \
        is not exactly 0.3! Weather in Paris: cloudy, 14°C; tomorrow, rain (80% chance). \
        She said, "I'll be there at 7:45 p.m., don't wait up."
        """

    /// Ids for models without a tokenizer: 128 positions spread over the vocabulary
    /// (a multiplicative walk mod `vocabularySize`), the same on every run.
    public static func syntheticTokens(vocabularySize: Int, count: Int = 128) -> [Int32] {
        precondition(vocabularySize > 0, "empty vocabulary")
        return (0..<count).map { i in Int32((i * 7919 + 1) % vocabularySize) }
    }

    /// Loads both models and compares them on `input`.
    /// - Throws: `FormatError` (a checkpoint, a tokenizer, mismatched vocabularies),
    ///   `ComputeError` (an id out of range).
    public static func run(
        reference: String, candidate: String, input: Input = .probe, options: Options = Options()
    ) throws -> VerificationResult {
        let ref = try ModelRegistry.load(path: reference)
        let cand = try ModelRegistry.load(path: candidate)
        let (tokens, source) = try resolve(
            input, reference: reference, candidate: candidate, vocabularySize: ref.vocabularySize)
        var result = try run(
            reference: ref, candidate: cand, tokens: tokens, options: options,
            names: (reference, candidate))
        result.tokenSource = source
        return result
    }

    /// Compares two built models on `tokens`, window by window.
    /// - Parameter names: how errors name the two models.
    /// - Throws: `FormatError` when the outputs cannot be compared (vocabulary or width
    ///   differs, a decoder against an encoder, a threshold that needs logits);
    ///   `ComputeError` from the forward passes.
    public static func run(
        reference: any LanguageModel, candidate: any LanguageModel, tokens: [Int32],
        options: Options = Options(), names: (String, String) = ("reference", "candidate")
    ) throws -> VerificationResult {
        try checkComparable(reference, candidate, options: options, names: names)
        guard !tokens.isEmpty else {
            throw FormatError(.invalid("no tokens to run"), field: "--tokens")
        }
        let limit =
            [options.windowSize, reference.maxTokens, candidate.maxTokens]
            .compactMap { $0 }.min() ?? options.windowSize
        guard limit > 0 else {
            throw FormatError(.invalid("window size \(options.windowSize)"), field: "--window")
        }
        var comparison = OutputComparison(
            width: reference.outputWidth, logits: reference.outputsLogits)
        var windows = 0
        for start in stride(from: 0, to: tokens.count, by: limit) {
            let end = min(start + limit, tokens.count)
            let ids = Array(tokens[start..<end])
            // Each model evaluated separately: only one model's activations are alive at once.
            let r = try ForwardPass.run(reference, tokens: ids, options: options.eval)
            let c = try ForwardPass.run(candidate, tokens: ids, options: options.eval)
            // Position i predicts token i + 1 of the whole sequence; the last position of a
            // window predicts the first token of the next one, so T − 1 predictions in all.
            let targets: [Int?] = (start..<end).map { i in
                i + 1 < tokens.count ? Int(tokens[i + 1]) : nil
            }
            r.withUnsafeFloats { rf in
                c.withUnsafeFloats { cf in
                    comparison.add(reference: rf, candidate: cf, targets: targets)
                }
            }
            windows += 1
        }
        let statistics = comparison.statistics
        return VerificationResult(
            statistics: statistics, thresholds: options.thresholds,
            failures: options.thresholds.failures(statistics), tokenSource: "--tokens",
            windows: windows, windowSize: limit)
    }

    /// The outputs must mean the same thing position by position and column by column.
    static func checkComparable(
        _ a: any LanguageModel, _ b: any LanguageModel, options: Options, names: (String, String)
    ) throws(FormatError) {
        guard a.outputsLogits == b.outputsLogits else {
            throw FormatError(
                .invalid(
                    "\(names.0) outputs \(a.outputsLogits ? "logits" : "hidden states") but "
                        + "\(names.1) outputs \(b.outputsLogits ? "logits" : "hidden states")"),
                file: names.1)
        }
        guard a.vocabularySize == b.vocabularySize, a.outputWidth == b.outputWidth else {
            throw FormatError(
                .invalid(
                    "vocabulary mismatch: \(names.0) has \(a.vocabularySize) tokens "
                        + "(output width \(a.outputWidth)), \(names.1) has \(b.vocabularySize) "
                        + "(output width \(b.outputWidth)); their outputs cannot be compared"),
                file: names.1, field: "vocab_size")
        }
        if !a.outputsLogits, options.thresholds.maxKL != nil || options.thresholds.minTop1 != nil {
            throw FormatError(
                .invalid(
                    "--max-kl and --min-top1 need logits; \(names.0) is an encoder (use --min-cosine)"
                ),
                file: names.0)
        }
    }

    /// The ids of `input` and a word for where they came from.
    public static func resolve(
        _ input: Input, reference: String, candidate: String, vocabularySize: Int
    ) throws(FormatError) -> (tokens: [Int32], source: String) {
        switch input {
        case .tokens(let ids):
            return (ids, "--tokens")
        case .text(let text):
            guard let tokenizer = try tokenizer(reference, candidate, required: true) else {
                throw FormatError(.invalid("no tokenizer"), file: reference)
            }
            let ids = tokenizer.encode(text, addSpecialTokens: true).map { Int32($0) }
            guard !ids.isEmpty else {
                throw FormatError(.invalid("the text gives no tokens"), field: "--text")
            }
            return (ids, "text")
        case .probe:
            if let tokenizer = try tokenizer(reference, candidate, required: false) {
                return (
                    tokenizer.encode(probeText, addSpecialTokens: true).map { Int32($0) },
                    "probe text"
                )
            }
            return (syntheticTokens(vocabularySize: vocabularySize), "synthetic ids")
        }
    }

    /// The reference's tokenizer, else the candidate's; nil (or an error when `required`)
    /// when neither has one. A tokenizer that exists but is malformed is always an error.
    static func tokenizer(_ reference: String, _ candidate: String, required: Bool)
        throws(FormatError) -> (any Tokenizer)?
    {
        for path in [reference, candidate] where hasTokenizer(path) {
            return try Tokenizers.load(model: path)
        }
        if required {
            throw FormatError(
                .invalid(
                    "neither model has a tokenizer (tokenizer.json or GGUF vocabulary); give --tokens"
                ),
                file: reference)
        }
        return nil
    }

    /// A directory with `tokenizer.json`, or a GGUF file with `tokenizer.ggml.model`.
    static func hasTokenizer(_ path: String) -> Bool {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            return false
        }
        if isDirectory.boolValue {
            return FileManager.default.fileExists(atPath: path + "/tokenizer.json")
        }
        guard let file = try? GGUFFile(path: path) else { return false }
        return file.metadata["tokenizer.ggml.model"] != nil
    }
}
